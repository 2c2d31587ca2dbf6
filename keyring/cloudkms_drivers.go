//go:build cloudkms

package keyring

// The GCP KMS and Azure Key Vault drivers add about 20 MB to the binary
// (docs/adr/0017), so only builds that ask for them get them.
import (
	_ "gocloud.dev/secrets/azurekeyvault"
	_ "gocloud.dev/secrets/gcpkms"
)
