package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
)

// peakRSS reads the process's peak resident set size (VmHWM) in bytes
// from /proc/self/status.
func peakRSS() (int64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, fmt.Errorf("bench: peak memory: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:")
		if !ok {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("bench: peak memory: VmHWM %q: %w", rest, err)
		}
		return kb << 10, nil
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("bench: peak memory: %w", err)
	}
	return 0, errors.New("bench: peak memory: no VmHWM in /proc/self/status")
}

// dbSize is the size of a SQLite database file and its write-ahead log.
func dbSize(path string) (int64, error) {
	var total int64
	for _, p := range []string{path, path + "-wal"} {
		fi, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) && p != path {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("bench: size of %s: %w", p, err)
		}
		total += fi.Size()
	}
	return total, nil
}

// disk takes the bytes on disk per record of the store and of the raw
// baseline after ingest and lookups, before any sweep frees pages.
func (r *runner) disk(ctx context.Context) error {
	ours, base, err := r.sizes(ctx)
	if err != nil {
		return err
	}
	r.res.DiskRecords = r.cfg.Records + r.httpCreated
	r.res.DiskBytesPerRecord = float64(ours) / float64(r.res.DiskRecords)
	r.res.DiskBaselineBytesPerRecord = float64(base) / float64(r.cfg.Records)
	r.res.DiskRatio = ratio(r.res.DiskBytesPerRecord, r.res.DiskBaselineBytesPerRecord)
	return nil
}

// sizes are the bytes on disk of the store's records and of the
// baseline's: the database files with their logs on SQLite, the two
// tables with their indexes on PostgreSQL (the rest of a server's files
// are shared by both).
func (r *runner) sizes(ctx context.Context) (ours, base int64, err error) {
	if pg, ok := r.raw.(*RawPG); ok {
		return pg.sizes(ctx)
	}
	if ours, err = dbSize(r.env.DBPath); err != nil {
		return 0, 0, err
	}
	base, err = dbSize(r.rawPath)
	return ours, base, err
}
