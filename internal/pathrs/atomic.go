package pathrs

import (
	"fmt"
	"os"
	"path/filepath"
)

// WriteFileAtomic replaces path with data so that a reader (or a zoneadmd
// adopting after a crash) sees the old content or the new, never half a
// file, and a crash of the machine keeps one of them: a temporary file
// beside it is written and fsynced, renamed over path, and the directory
// fsynced. It is the one way zonetop replaces a file of its own.
func WriteFileAtomic(path string, data []byte, mode os.FileMode) error {
	return WriteFileAtomicHook(path, data, mode, nil)
}

// WriteFileAtomicHook is WriteFileAtomic that calls beforeRename (when
// not nil) with the new content on disk and not yet in place: the store's
// crash tests stop there.
func WriteFileAtomicHook(path string, data []byte, mode os.FileMode, beforeRename func()) error {
	return writeFileAtomic(path, data, mode, beforeRename, true)
}

// WriteFileAtomicVolatile replaces path as WriteFileAtomic does, for a
// reader that lives no longer than the running kernel (a zoneadmd after
// the one that died): nothing is fsynced, since what the file describes
// (the zone's IPC objects, say) is gone after a crash of the machine
// anyway, and an fsync costs milliseconds on a busy disk.
func WriteFileAtomicVolatile(path string, data []byte, mode os.FileMode) error {
	return writeFileAtomic(path, data, mode, nil, false)
}

func writeFileAtomic(path string, data []byte, mode os.FileMode, beforeRename func(), durable bool) error {
	dir, name := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+name+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmpName := tmp.Name()
	fail := func(err error) error {
		tmp.Close()
		os.Remove(tmpName)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(mode); err != nil {
		return fail(err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fail(err)
	}
	if durable {
		if err := tmp.Sync(); err != nil {
			return fail(err)
		}
	}
	if err := tmp.Close(); err != nil {
		return fail(err)
	}
	if beforeRename != nil {
		beforeRename()
	}
	if err := os.Rename(tmpName, path); err != nil {
		os.Remove(tmpName)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if !durable {
		return nil
	}
	return SyncDir(dir)
}

// SyncDir fsyncs a directory, so the names in it (a rename, a removal)
// survive a crash.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
