package keyring

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/url"
	"path"
	"strings"
	"sync"
	"time"

	"gocloud.dev/gcerrors"
	"gocloud.dev/secrets"
	// The AWS KMS driver is in every build: its SDK adds a few MB. The
	// GCP and Azure drivers add far more and come with -tags cloudkms
	// (cloudkms_drivers.go).
	_ "gocloud.dev/secrets/awskms"

	"github.com/lethe-privacy/lethe"
)

// CloudKMS is a master key held by a cloud key service (AWS KMS; GCP KMS
// and Azure Key Vault in builds with -tags cloudkms), reached through
// gocloud.dev/secrets: the key never leaves the service, which encrypts
// and decrypts tenant keys for Lethe.
//
// A cloud key's own versions (AWS automatic rotation, a new GCP key
// version) are the service's business: every ciphertext keeps decrypting
// and its kekID does not change. A rotation Lethe can see is a move to
// another key (RotateTo), so the versions of a CloudKMS are keys: a kekID
// is "SCHEME:KEY" (the URL's host and path, without its query), and a key
// wrapped by an older key is unwrapped through that key, reached with the
// current URL's query (region, endpoint). It implements Master and
// Retargeter.
type CloudKMS struct {
	scheme string
	query  string // the current URL's query, reused for older keys
	opts   MasterOptions

	mu      sync.Mutex
	current string                     // kekID of the key Wrap uses
	keepers map[string]*secrets.Keeper // by kekID, the current one too
	order   []string                   // kekIDs in the order first used
}

var (
	_ Master     = (*CloudKMS)(nil)
	_ Retargeter = (*CloudKMS)(nil)
)

// Retargeter is a Master whose rotation moves to another key the caller
// names (a cloud KMS key), instead of creating a version itself.
type Retargeter interface {
	// RotateTo makes the key rawURL names the one Wrap uses, after
	// proving that it answers; older keys keep unwrapping. It returns
	// the new key's kekID.
	RotateTo(ctx context.Context, rawURL string) (string, error)
}

// cloudTimeout bounds each call to the key service, as transitTimeout.
const cloudTimeout = 10 * time.Second

// cloudBuildTag is the build tag that compiles in the GCP and Azure
// drivers.
const cloudBuildTag = "cloudkms"

// cloudSchemes are the gocloud secrets schemes a --master-key URL may
// name; each needs its driver compiled in.
var cloudSchemes = map[string]bool{"awskms": true, "gcpkms": true, "azurekeyvault": true}

// OpenCloudKMS opens the cloud key rawURL names (awskms://KEY_ID?region=R
// and, with -tags cloudkms, gcpkms://... and azurekeyvault://...), and
// proves it answers by wrapping and unwrapping a random value: an
// unreachable service fails with lethe.ErrUnavailable, a key that does
// not exist or that the credentials may not use with ErrWrongMasterKey,
// before anything is written.
func OpenCloudKMS(ctx context.Context, rawURL string, opts MasterOptions) (*CloudKMS, error) {
	c := &CloudKMS{opts: opts, keepers: map[string]*secrets.Keeper{}}
	id, k, err := c.open(ctx, rawURL)
	if err != nil {
		return nil, err
	}
	if err := c.check(ctx, id, k); err != nil {
		k.Close()
		return nil, err
	}
	c.current = id
	c.keepers[id] = k
	c.order = append(c.order, id)
	return c, nil
}

// open parses a cloud key URL and opens its keeper (which calls nothing
// yet); it also records the scheme and query for older keys.
func (c *CloudKMS) open(ctx context.Context, rawURL string) (string, *secrets.Keeper, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", nil, fmt.Errorf("master key URL: %v: %w", err, lethe.ErrInvalid)
	}
	if !cloudSchemes[u.Scheme] {
		return "", nil, fmt.Errorf("master key URL: %s:// is not a cloud KMS scheme: %w", u.Scheme, lethe.ErrInvalid)
	}
	if !secrets.DefaultURLMux().ValidKeeperScheme(u.Scheme) {
		return "", nil, fmt.Errorf("master key URL: %s:// is not built into this binary (build with -tags %s): %w", u.Scheme, cloudBuildTag, lethe.ErrInvalid)
	}
	if c.scheme != "" && u.Scheme != c.scheme {
		return "", nil, fmt.Errorf("master key URL: cannot move from %s:// to %s:// (rewrap through a key file or a key of the same service): %w", c.scheme, u.Scheme, lethe.ErrInvalid)
	}
	key := strings.TrimPrefix(path.Join(u.Host, u.Path), "/")
	if key == "" {
		return "", nil, fmt.Errorf("master key URL: %s:// names no key: %w", u.Scheme, lethe.ErrInvalid)
	}
	k, err := secrets.DefaultURLMux().OpenKeeperURL(ctx, u)
	if err != nil {
		return "", nil, fmt.Errorf("master key URL %s: %v: %w", redactURL(u), err, lethe.ErrInvalid)
	}
	c.scheme, c.query = u.Scheme, u.RawQuery
	return u.Scheme + ":" + key, k, nil
}

// redactURL drops the query, where a driver might take a credential.
func redactURL(u *url.URL) string {
	return u.Scheme + "://" + strings.TrimPrefix(path.Join(u.Host, u.Path), "/")
}

// check wraps and unwraps a random value with k.
func (c *CloudKMS) check(ctx context.Context, id string, k *secrets.Keeper) error {
	v := make([]byte, probeSize)
	rand.Read(v)
	ctx, cancel := context.WithTimeout(ctx, cloudTimeout)
	defer cancel()
	ct, err := k.Encrypt(ctx, v)
	if err != nil {
		return c.classify(id, "encrypt", err)
	}
	back, err := k.Decrypt(ctx, ct)
	if err != nil {
		return c.classify(id, "decrypt", err)
	}
	if subtle.ConstantTimeCompare(v, back) != 1 {
		return fmt.Errorf("%w: %s decrypted a test value to other bytes", ErrWrongMasterKey, id)
	}
	return nil
}

// apiError is what the AWS SDK's service errors (smithy.APIError)
// implement: an answer of the service, as opposed to no answer.
type apiError interface {
	ErrorCode() string
}

// transientCodes are the service answers that mean "try later".
var transientCodes = map[string]bool{
	"KMSInternalException": true, "KeyUnavailableException": true, "DependencyTimeoutException": true,
	"ThrottlingException": true, "RequestLimitExceeded": true, "ServiceUnavailable": true, "InternalFailure": true,
}

// classify sorts a key service error as Transit.do does: no answer, or
// an answer that means "later", is lethe.ErrUnavailable (cached keys go on
// serving); a refusal (no such key, access denied, a ciphertext of
// another key) is ErrWrongMasterKey. The message names the key, never a
// credential.
func (c *CloudKMS) classify(id, op string, err error) error {
	var ae apiError
	switch code := gcerrors.Code(err); {
	case code == gcerrors.Canceled:
		return fmt.Errorf("%s %s: %w", op, id, context.Canceled)
	case errors.As(err, &ae) && !transientCodes[ae.ErrorCode()]:
		return fmt.Errorf("%w: %s %s refused: %s", ErrWrongMasterKey, op, id, ae.ErrorCode())
	case code == gcerrors.NotFound || code == gcerrors.PermissionDenied || code == gcerrors.InvalidArgument || code == gcerrors.FailedPrecondition:
		return fmt.Errorf("%w: %s %s refused (%v)", ErrWrongMasterKey, op, id, code)
	}
	return fmt.Errorf("master key service unreachable: %s %s: %v: %w", op, id, err, lethe.ErrUnavailable)
}

// keeper returns the keeper of kekID, opening one with the current URL's
// query for a key of this service not seen yet.
func (c *CloudKMS) keeper(ctx context.Context, kekID string) (*secrets.Keeper, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if k := c.keepers[kekID]; k != nil {
		return k, nil
	}
	key, ok := strings.CutPrefix(kekID, c.scheme+":")
	if !ok || key == "" {
		return nil, fmt.Errorf("%w: key was wrapped by %q, not by a key of %s", ErrWrongMasterKey, kekID, c.describeLocked())
	}
	raw := c.scheme + ":///" + key
	if c.query != "" {
		raw += "?" + c.query
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: kek id %q: %v", ErrWrongMasterKey, kekID, err)
	}
	k, err := secrets.DefaultURLMux().OpenKeeperURL(ctx, u)
	if err != nil {
		return nil, fmt.Errorf("%w: open %s: %v", ErrWrongMasterKey, kekID, err)
	}
	c.keepers[kekID] = k
	c.order = append(c.order[:len(c.order)-1], kekID, c.current) // current stays last
	return k, nil
}

// ID is the kekID of the key Wrap uses.
func (c *CloudKMS) ID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.current
}

// Knows reports whether kekID is a key this master has opened: the
// configured one, or one it moved from in this process. The data's
// recorded key is checked against it at start, so a URL naming another key
// than the data's is refused before anything is written.
func (c *CloudKMS) Knows(kekID string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.keepers[kekID] != nil
}

// Wrap encrypts a tenant key with the current key.
func (c *CloudKMS) Wrap(ctx context.Context, dek []byte) ([]byte, string, error) {
	c.mu.Lock()
	id, k := c.current, c.keepers[c.current]
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, cloudTimeout)
	defer cancel()
	ct, err := k.Encrypt(ctx, dek)
	if err != nil {
		return nil, "", fmt.Errorf("wrap: %w", c.classify(id, "encrypt", err))
	}
	return ct, id, nil
}

// Unwrap decrypts a tenant key through the key that wrapped it.
func (c *CloudKMS) Unwrap(ctx context.Context, wrapped []byte, kekID string) ([]byte, error) {
	k, err := c.keeper(ctx, kekID)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, cloudTimeout)
	defer cancel()
	dek, err := k.Decrypt(ctx, wrapped)
	if err != nil {
		return nil, fmt.Errorf("unwrap: %w", c.classify(kekID, "decrypt", err))
	}
	return dek, nil
}

// Rotate is refused: Lethe creates no cloud keys. A key's own rotation in
// the service needs nothing from Lethe; a move to another key is
// RotateTo (lethe keys rotate --master --to URL).
func (c *CloudKMS) Rotate(context.Context) (string, error) {
	return "", fmt.Errorf("%s rotates inside the key service (its automatic rotation keeps the key id, and old wraps keep opening); to move to another key, name it: lethe keys rotate --master --to URL: %w", c.Describe(), lethe.ErrInvalid)
}

// RotateTo makes the key rawURL names current, once it answers.
func (c *CloudKMS) RotateTo(ctx context.Context, rawURL string) (string, error) {
	c.mu.Lock()
	scheme, query := c.scheme, c.query
	c.mu.Unlock()
	probe := &CloudKMS{scheme: scheme}
	id, k, err := probe.open(ctx, rawURL)
	if err != nil {
		return "", err
	}
	if err := c.check(ctx, id, k); err != nil {
		k.Close()
		return "", err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.keepers[id]; old != nil {
		old.Close()
	}
	if query != "" && probe.query == "" {
		probe.query = query
	}
	c.keepers[id], c.current, c.query = k, id, probe.query
	order := c.order[:0]
	for _, o := range c.order {
		if o != id {
			order = append(order, o)
		}
	}
	c.order = append(order, id)
	return id, nil
}

// Versions lists the keys this master has opened, the current one last.
func (c *CloudKMS) Versions(context.Context) ([]string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.order...), nil
}

// Destroy is refused: deleting a cloud key is for its owner, in the
// service (with its waiting period), once status shows nothing uses it.
func (c *CloudKMS) Destroy(_ context.Context, kekID string) error {
	return fmt.Errorf("%s no longer wraps anything; Lethe deletes no cloud keys: schedule its deletion in the key service: %w", kekID, lethe.ErrInvalid)
}

// Describe names the service and the current key, never a credential.
func (c *CloudKMS) Describe() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.describeLocked()
}

func (c *CloudKMS) describeLocked() string {
	return "cloud KMS key " + c.current
}

// Close releases the keepers.
func (c *CloudKMS) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var err error
	for _, k := range c.keepers {
		err = errors.Join(err, k.Close())
	}
	return err
}
