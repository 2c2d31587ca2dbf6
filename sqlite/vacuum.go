package sqlite

import (
	"context"
	"fmt"
)

// Vacuum rebuilds the main database file from its live rows and
// checkpoints it: no byte of a deleted or rewritten row stays anywhere in
// the file, free space of live pages included, which secure_delete alone
// does not promise after many deletions rebalance the B-trees. It takes
// the writer for as long as the rebuild lasts (about a second per 100k
// records), so it runs where nothing else writes: after the erasure
// journal's replay, before serving.
func (s *Store) Vacuum(ctx context.Context) error {
	if s.isClosed() {
		return errClosed
	}
	if _, err := s.file.writer.ExecContext(ctx, "VACUUM"); err != nil {
		return fmt.Errorf("vacuum: %w", mapErr(err))
	}
	return s.file.checkpoint(ctx)
}
