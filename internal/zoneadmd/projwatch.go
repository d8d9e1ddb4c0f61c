package zoneadmd

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log"
	"os"
	"strings"
	"time"
	"zonetop/internal/audit"
	"zonetop/internal/pathrs"

	"golang.org/x/sys/unix"
)

// zoneadmd follows the zone's /etc/project with inotify, so a zone
// administrator's hand edit applies as projmod's would: the good lines
// live, the bad ones reported (file:line: why) on the zone's console, in
// the audit log and the zone's status. The watch is on the zone's etc
// directory (opened inside the zone root, never through a link out of
// it): a rename over the file, an in-place write, a delete and a
// re-create all show there, and the file may come and go. A burst of
// events (an editor's write, rename and chmod) is one reload, ~100 ms
// after the last.

const (
	projWatchDebounce = 100 * time.Millisecond
	projWatchRetry    = time.Second
	ProjWatchPoll     = 2 * time.Second
	projWatchMask     = unix.IN_CLOSE_WRITE | unix.IN_MODIFY | unix.IN_MOVED_TO | unix.IN_MOVED_FROM |
		unix.IN_DELETE | unix.IN_DELETE_SELF | unix.IN_MOVE_SELF | unix.IN_ONLYDIR
)

// projectWatch is one zone's watch, from ready to halt.
type projectWatch struct {
	stop chan struct{}
	done chan struct{}
}

// startProjectWatch begins following the zone's /etc/project.
func (d *zoneadmd) startProjectWatch() error {
	d.mu.Lock()
	l := d.lim
	d.mu.Unlock()
	if l == nil {
		return nil
	}
	root := l.zoneRoot
	w, err := WatchProjects(root, func() { d.projectFileChanged(root) })
	if err != nil {
		return err
	}
	d.mu.Lock()
	old := d.pwatch
	d.pwatch = w
	d.mu.Unlock()
	if old != nil {
		old.Close()
	}
	return nil
}

// watchProjects starts a watch on zoneRoot's /etc/project that calls
// changed (from its own goroutine) after each burst of changes.
func WatchProjects(zoneRoot string, changed func()) (*projectWatch, error) {
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		// Inotify instances are counted per uid, and a zone's root is
		// host root: a zone can use them all up (and a host with more
		// zones than fs.inotify.max_user_instances runs out by itself).
		// The watch must not depend on what zones leave over: it
		// polls instead, and says so once.
		log.Printf("watch /etc/project: %v; looking at it every %v instead", err, ProjWatchPoll)
		w := &projectWatch{stop: make(chan struct{}), done: make(chan struct{})}
		go pollProjects(w, zoneRoot, changed)
		return w, nil
	}
	// A non-blocking descriptor goes to Go's poller, so Close ends a
	// pending Read.
	f := os.NewFile(uintptr(fd), "inotify")
	w := &projectWatch{stop: make(chan struct{}), done: make(chan struct{})}
	go runProjectWatch(w, f, fd, zoneRoot, changed)
	return w, nil
}

// stopProjectWatch ends the watch (at halt) and waits for it.
func (d *zoneadmd) stopProjectWatch() {
	d.mu.Lock()
	w := d.pwatch
	d.pwatch = nil
	d.mu.Unlock()
	if w != nil {
		w.Close()
	}
}

func (w *projectWatch) Close() {
	close(w.stop)
	<-w.done
}

// addEtcWatch watches the zone's etc directory, resolved inside the zone
// root, through its descriptor's /proc/self/fd path (inotify takes paths
// only).
func addEtcWatch(ifd int, zoneRoot string) (int, error) {
	rootfd, err := unix.Open(zoneRoot, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("zone root %s: %w", zoneRoot, err)
	}
	defer unix.Close(rootfd)
	dfd, err := unix.Openat2(rootfd, "etc", &unix.OpenHow{Flags: unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS | unix.RESOLVE_NO_XDEV})
	if err != nil {
		return -1, fmt.Errorf("/etc: %w", err)
	}
	defer unix.Close(dfd)
	wd, err := unix.InotifyAddWatch(ifd, fmt.Sprintf("/proc/self/fd/%d", dfd), projWatchMask)
	if err != nil {
		return -1, fmt.Errorf("watch /etc: %w", err)
	}
	return wd, nil
}

// runProjectWatch is the watch's loop: events from a reader goroutine,
// the debounce timer, and a retry while the etc directory is missing.
func runProjectWatch(w *projectWatch, f *os.File, ifd int, zoneRoot string, changed func()) {
	defer close(w.done)
	events := make(chan []byte)
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		buf := make([]byte, 64<<10)
		for {
			n, err := f.Read(buf)
			if err != nil {
				return
			}
			select {
			case events <- append([]byte(nil), buf[:n]...):
			case <-w.stop:
				return
			}
		}
	}()
	defer func() {
		// Releasing an inotify instance waits for the kernel's SRCU grace
		// period (up to ~15 ms measured): halt need not wait for it, only
		// for this loop to be done calling changed.
		go func() {
			f.Close()
			<-readerDone
		}()
	}()
	wd := -1
	var (
		retry <-chan time.Time
		fire  <-chan time.Time
		timer *time.Timer
	)
	arm := func() {
		if timer == nil {
			timer = time.NewTimer(projWatchDebounce)
		} else {
			timer.Reset(projWatchDebounce)
		}
		fire = timer.C
	}
	watch := func() {
		var err error
		if wd, err = addEtcWatch(ifd, zoneRoot); err != nil {
			retry = time.After(projWatchRetry)
			return
		}
		retry = nil
	}
	watch()
	for {
		select {
		case <-w.stop:
			if timer != nil {
				timer.Stop()
			}
			return
		case <-retry:
			watch()
			if wd >= 0 {
				// The directory came back: its file may be new.
				arm()
			}
		case b := <-events:
			hit, lost := parseProjectEvents(b, wd)
			if lost {
				wd = -1
				watch()
			}
			if hit || lost {
				arm()
			}
		case <-fire:
			fire = nil
			changed()
		}
	}
}

// parseProjectEvents reads a buffer of inotify events: changed when one
// names the project file, lost when the watched directory went away
// (deleted, moved, or the watch dropped).
func parseProjectEvents(b []byte, wd int) (changed, lost bool) {
	for len(b) >= unix.SizeofInotifyEvent {
		evWd := int32(binary.NativeEndian.Uint32(b[0:4]))
		mask := binary.NativeEndian.Uint32(b[4:8])
		n := int(binary.NativeEndian.Uint32(b[12:16]))
		if unix.SizeofInotifyEvent+n > len(b) {
			break
		}
		name := string(bytes.TrimRight(b[unix.SizeofInotifyEvent:unix.SizeofInotifyEvent+n], "\x00"))
		b = b[unix.SizeofInotifyEvent+n:]
		if int(evWd) != wd {
			continue
		}
		if mask&(unix.IN_DELETE_SELF|unix.IN_MOVE_SELF|unix.IN_IGNORED) != 0 {
			lost = true
		}
		if name == "project" {
			changed = true
		}
	}
	return changed, lost
}

// projectFileChanged applies the zone's /etc/project after a change seen
// by the watch. zoneadmd's own writes (the socket's project ops) show up
// too; a file that reads the same as the one last applied is left alone.
func (d *zoneadmd) projectFileChanged(zoneRoot string) {
	b, err := pathrs.ReadZoneFile(zoneRoot, "/etc/project", pathrs.ZoneDBMax)
	if errors.Is(err, unix.ENOENT) {
		b, err = nil, nil
	}
	if err != nil {
		// A FIFO, a device, a symlink or an oversized file: refused
		// without waiting on it; the projects applied before stay, and
		// the zone's console says why.
		log.Printf("/etc/project changed: %v", err)
		if d.hub != nil {
			d.hub.Notice(fmt.Sprintf("zoneadmd: %v; the projects applied before stay", err))
		}
		return
	}
	d.mu.Lock()
	same := d.projApplied != nil && bytes.Equal(d.projApplied, b)
	d.mu.Unlock()
	if same {
		return
	}
	err = d.reloadProjects()
	d.mu.Lock()
	warn := append([]string(nil), d.st.Warnings...)
	d.mu.Unlock()
	rec := audit.AuditRecord{Principal: audit.AuditPrincipal{UID: fileOwner(zoneRoot), Zone: d.name}, Zone: d.name,
		What: "edit /etc/project", Result: "ok"}
	switch {
	case err != nil:
		rec.Result = err.Error()
		log.Printf("/etc/project changed: %v", err)
	case len(warn) > 0:
		rec.Result = "applied, except: " + strings.Join(warn, "; ")
	}
	d.auditLim.record(rec)
	if d.hub != nil {
		if len(warn) > 0 {
			for _, w := range warn {
				d.hub.Notice("zoneadmd: " + w)
			}
		} else if err == nil {
			d.hub.Notice("zoneadmd: /etc/project applied")
		}
	}
}

// fileOwner is the owner of the zone's /etc/project, the best account of
// who edited it by hand (-1 when it is gone).
func fileOwner(zoneRoot string) int {
	rootfd, err := unix.Open(zoneRoot, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1
	}
	defer unix.Close(rootfd)
	fd, err := unix.Openat2(rootfd, "etc/project", &unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS})
	if err != nil {
		return -1
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil {
		return -1
	}
	return int(st.Uid)
}

// pollProjects follows the zone's /etc/project by its identity (device,
// inode, size, modification and change times) when inotify cannot be had.
func pollProjects(w *projectWatch, zoneRoot string, changed func()) {
	defer close(w.done)
	last, _ := projectFileKey(zoneRoot)
	t := time.NewTicker(ProjWatchPoll)
	defer t.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-t.C:
			k, _ := projectFileKey(zoneRoot)
			if k != last {
				last = k
				changed()
			}
		}
	}
}

// projectFileKey is the identity of the zone's /etc/project, resolved
// inside the zone root and never opened for reading (a FIFO there is
// looked at, not waited on); the zero key when there is none.
func projectFileKey(zoneRoot string) (projFileKey, error) {
	rootfd, err := unix.Open(zoneRoot, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return projFileKey{}, err
	}
	defer unix.Close(rootfd)
	fd, err := pathrs.OpenInZone(rootfd, "etc/project", unix.O_PATH)
	if err != nil {
		return projFileKey{}, err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return projFileKey{}, err
	}
	return projFileKey{dev: st.Dev, ino: st.Ino, size: st.Size, mtime: st.Mtim.Nano(), ctim: st.Ctim.Nano()}, nil
}
