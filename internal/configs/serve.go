package configs

import (
	"path/filepath"
)

// ServeSock is the service's socket under a root prefix.
func ServeSock(rootPrefix string) string {
	return filepath.Join(RunBase(rootPrefix), "zonetop.sock")
}
