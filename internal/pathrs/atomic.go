package pathrs

import (
	"os"
)

// writeFileAtomic replaces path with data through a rename, so a reader
// (or a zoneadmd adopting after a crash) never sees half a file.
func WriteFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
