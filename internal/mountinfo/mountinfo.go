// Package mountinfo reads the kernel's mount table (proc_pid_mountinfo(5))
// for every part of zonetop that asks what is mounted where: the cgroup
// hierarchies, uninstall's check for mounts left in a zonepath, and halt's
// search for holders of a zone's mount namespace. It is a leaf; it reads
// /proc and touches nothing.
package mountinfo

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// Entry is one mount, its paths unescaped.
type Entry struct {
	ID, Parent int
	Root       string // the mounted subtree of its file system
	MountPoint string
	FSType     string
	Source     string
	// Super are the super block's options (for cgroup v1, the
	// controllers); Options the mount's own.
	Super, Options string
}

// Self is this thread's mount namespace's table (/proc/thread-self: a
// thread that entered another namespace sees that one).
func Self() ([]Entry, error) { return Read("/proc/thread-self/mountinfo") }

// Read reads a mountinfo file.
func Read(path string) ([]Entry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("mount table: %w", err)
	}
	defer f.Close()
	es, err := Parse(f)
	if err != nil {
		return nil, fmt.Errorf("mount table %s: %w", path, err)
	}
	return es, nil
}

// Parse reads mountinfo lines. A line it cannot read is skipped: the
// format grows optional fields, and one odd line must not hide the rest.
func Parse(r io.Reader) ([]Entry, error) {
	var out []Entry
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		pf, qf := strings.Fields(pre), strings.Fields(post)
		if len(pf) < 6 || len(qf) < 2 {
			continue
		}
		id, err1 := strconv.Atoi(pf[0])
		parent, err2 := strconv.Atoi(pf[1])
		if err1 != nil || err2 != nil {
			continue
		}
		e := Entry{ID: id, Parent: parent, Root: Unescape(pf[3]), MountPoint: Unescape(pf[4]), Options: pf[5],
			FSType: qf[0], Source: Unescape(qf[1])}
		if len(qf) > 2 {
			e.Super = qf[2]
		}
		out = append(out, e)
	}
	return out, sc.Err()
}

// Unescape undoes the kernel's octal escapes in a mountinfo path (\040 a
// space, \011 a tab, \012 a newline, \134 a backslash, and any other
// \NNN); a backslash not followed by three octal digits stays.
func Unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			o := s[i+1 : i+4]
			if o[0] >= '0' && o[0] <= '3' && o[1] >= '0' && o[1] <= '7' && o[2] >= '0' && o[2] <= '7' {
				b.WriteByte((o[0]-'0')<<6 | (o[1]-'0')<<3 | (o[2] - '0'))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
