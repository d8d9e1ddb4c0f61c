package zoneadmd

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
	"zonetop/internal/audit"
	"zonetop/internal/pathrs"

	"golang.org/x/sys/unix"
)

// zoneadmd follows the zone's /etc/project, so a zone administrator's
// hand edit applies as projmod's would: the good lines live, the bad ones
// reported (file:line: why) on the zone's console, in the audit log and
// the zone's status. The watch is on the zone's etc directory (opened
// inside the zone root, never through a link out of it): a rename over
// the file, an in-place write, a delete and a re-create all show there,
// and the file may come and go. A burst of events (an editor's write,
// rename and chmod) is one reload, ~100 ms after the last.
//
// Inotify instances are counted per uid (128 by default) and every
// zoneadmd runs as host root: one instance per zoneadmd ran out at the
// 128th zone, and then no other root process on the host could get one.
// So no zoneadmd holds an instance: the keeper of the root prefix
// watches every zone's etc directory on one instance of its own
// (WatchProjects shares one per process) and tells each zoneadmd over
// the connection it already holds. A process that can get no instance at
// all (zones may hold them all: a zone's root is host root) looks at the
// file every ProjWatchPoll instead, and takes an instance once one is
// free.

const (
	projWatchDebounce = 100 * time.Millisecond
	projWatchRetry    = time.Second
	ProjWatchPoll     = 2 * time.Second
	projWatchMask     = unix.IN_CLOSE_WRITE | unix.IN_MODIFY | unix.IN_MOVED_TO | unix.IN_MOVED_FROM |
		unix.IN_DELETE | unix.IN_DELETE_SELF | unix.IN_MOVE_SELF | unix.IN_ONLYDIR
)

// startProjectWatch asks the keeper to follow the zone's /etc/project
// for this zoneadmd (keeperWatchOp); keepAlive asks again on every new
// connection.
func (d *zoneadmd) startProjectWatch() error {
	d.mu.Lock()
	l := d.lim
	if l == nil {
		d.mu.Unlock()
		return nil
	}
	d.watchRoot = l.zoneRoot
	c := d.keeperConn
	d.mu.Unlock()
	if c != nil {
		if err := c.Send(keeperMsg{Op: keeperWatchOp, Root: l.zoneRoot}); err != nil {
			// keepAlive finds the connection gone and asks the next
			// keeper.
			log.Printf("watch /etc/project: keeper: %v", err)
		}
	}
	return nil
}

// stopProjectWatch ends the watch (at halt).
func (d *zoneadmd) stopProjectWatch() {
	d.mu.Lock()
	had := d.watchRoot != ""
	d.watchRoot = ""
	c := d.keeperConn
	d.mu.Unlock()
	if had && c != nil {
		_ = c.Send(keeperMsg{Op: keeperUnwatchOp})
	}
}

// projectWatch is one caller's watch on one zone root's etc directory.
type projectWatch struct {
	hub     *watchHub
	root    string
	changed func()
	wd      int         // the inotify watch; -1: none yet (etc missing, or no instance)
	key     projFileKey // the file's identity, while polled
	timer   *time.Timer // the debounce
	closed  bool
}

// watchHub is a process's one inotify instance and the watches on it.
type watchHub struct {
	mu      sync.Mutex
	f       *os.File // the instance; nil while none could be had
	watches map[*projectWatch]struct{}
	byWd    map[int][]*projectWatch // one directory watched twice has one wd
	quit    chan struct{}
	done    sync.WaitGroup
	// saidPoll: the log has said once that the watches poll.
	saidPoll bool
}

var (
	hubMu sync.Mutex
	hub   *watchHub
)

// WatchProjects starts a watch on zoneRoot's /etc/project that calls
// changed (from a goroutine of its own) after each burst of changes.
// Every watch of the process shares one inotify instance.
func WatchProjects(zoneRoot string, changed func()) (*projectWatch, error) {
	hubMu.Lock()
	defer hubMu.Unlock()
	if hub == nil {
		hub = &watchHub{watches: map[*projectWatch]struct{}{}, byWd: map[int][]*projectWatch{}, quit: make(chan struct{})}
		hub.mu.Lock()
		hub.open()
		hub.mu.Unlock()
		hub.done.Add(1)
		go hub.tick()
	}
	w := &projectWatch{hub: hub, root: zoneRoot, changed: changed, wd: -1}
	hub.mu.Lock()
	hub.watches[w] = struct{}{}
	if hub.f != nil {
		hub.watch(w)
	}
	if w.wd < 0 {
		w.key, _ = projectFileKey(zoneRoot)
	}
	hub.mu.Unlock()
	return w, nil
}

// open takes an inotify instance for the hub, if one can be had; the
// caller holds h.mu.
func (h *watchHub) open() {
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		if !h.saidPoll {
			h.saidPoll = true
			log.Printf("watch /etc/project: %v; looking at it every %v until an inotify instance is free", err, ProjWatchPoll)
		}
		return
	}
	// A non-blocking descriptor goes to Go's poller, so Close ends the
	// reader's Read.
	h.f = os.NewFile(uintptr(fd), "inotify")
	h.done.Add(1)
	go h.read(h.f)
}

// watch adds w's directory to the instance; the caller holds h.mu.
func (h *watchHub) watch(w *projectWatch) {
	wd, err := addEtcWatch(int(h.f.Fd()), w.root)
	if err != nil {
		return
	}
	w.wd = wd
	h.byWd[wd] = append(h.byWd[wd], w)
}

// unwatch drops w's share of its watch; the caller holds h.mu.
func (h *watchHub) unwatch(w *projectWatch, rm bool) {
	if w.wd < 0 {
		return
	}
	ws := slices.DeleteFunc(h.byWd[w.wd], func(o *projectWatch) bool { return o == w })
	if len(ws) == 0 {
		delete(h.byWd, w.wd)
		if rm && h.f != nil {
			_, _ = unix.InotifyRmWatch(int(h.f.Fd()), uint32(w.wd))
		}
	} else {
		h.byWd[w.wd] = ws
	}
	w.wd = -1
}

// arm (re)starts w's debounce; the caller holds h.mu.
func (h *watchHub) arm(w *projectWatch) {
	if w.timer != nil {
		w.timer.Reset(projWatchDebounce)
		return
	}
	w.timer = time.AfterFunc(projWatchDebounce, func() {
		h.mu.Lock()
		closed := w.closed
		h.mu.Unlock()
		if !closed {
			w.changed()
		}
	})
}

// read turns the instance's events into debounced calls.
func (h *watchHub) read(f *os.File) {
	defer h.done.Done()
	buf := make([]byte, 64<<10)
	for {
		n, err := f.Read(buf)
		if err != nil {
			return
		}
		h.mu.Lock()
		eachInotifyEvent(buf[:n], func(wd int32, mask uint32, name string) {
			if mask&unix.IN_Q_OVERFLOW != 0 {
				// Events were lost: any file may have changed.
				for w := range h.watches {
					h.arm(w)
				}
				return
			}
			ws := append([]*projectWatch(nil), h.byWd[int(wd)]...)
			for _, w := range ws {
				if mask&(unix.IN_DELETE_SELF|unix.IN_MOVE_SELF|unix.IN_IGNORED) != 0 {
					// The directory went (or its watch did): the
					// tick watches it again once it is back.
					h.unwatch(w, false)
					h.arm(w)
				} else if name == "project" {
					h.arm(w)
				}
			}
		})
		h.mu.Unlock()
	}
}

// tick watches again what lost its watch, takes an instance once one is
// free, and meanwhile polls what has no watch.
func (h *watchHub) tick() {
	defer h.done.Done()
	t := time.NewTicker(projWatchRetry)
	defer t.Stop()
	for i := 1; ; i++ {
		select {
		case <-h.quit:
			return
		case <-t.C:
		}
		h.mu.Lock()
		if h.f == nil {
			h.open()
		}
		for w := range h.watches {
			if w.wd >= 0 {
				continue
			}
			if h.f != nil {
				h.watch(w)
				if w.wd >= 0 {
					// Watched again: the file may be new.
					h.arm(w)
					continue
				}
			}
			if i%int(ProjWatchPoll/projWatchRetry) != 0 {
				continue
			}
			if k, _ := projectFileKey(w.root); k != w.key {
				w.key = k
				h.arm(w)
			}
		}
		h.mu.Unlock()
	}
}

// Close ends the watch; the last one of the process gives the instance
// back and waits for the hub's goroutines. A call already under way may
// still be running.
func (w *projectWatch) Close() {
	hubMu.Lock()
	defer hubMu.Unlock()
	h := w.hub
	h.mu.Lock()
	if w.closed {
		h.mu.Unlock()
		return
	}
	w.closed = true
	if w.timer != nil {
		w.timer.Stop()
	}
	h.unwatch(w, true)
	delete(h.watches, w)
	last := len(h.watches) == 0
	f := h.f
	h.mu.Unlock()
	if !last {
		return
	}
	close(h.quit)
	if f != nil {
		f.Close()
	}
	h.done.Wait()
	hub = nil
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

// eachInotifyEvent calls fn for each whole event in a buffer read from an
// inotify instance.
func eachInotifyEvent(b []byte, fn func(wd int32, mask uint32, name string)) {
	for len(b) >= unix.SizeofInotifyEvent {
		wd := int32(binary.NativeEndian.Uint32(b[0:4]))
		mask := binary.NativeEndian.Uint32(b[4:8])
		n := int(binary.NativeEndian.Uint32(b[12:16]))
		if unix.SizeofInotifyEvent+n > len(b) {
			return
		}
		name := string(bytes.TrimRight(b[unix.SizeofInotifyEvent:unix.SizeofInotifyEvent+n], "\x00"))
		b = b[unix.SizeofInotifyEvent+n:]
		fn(wd, mask, name)
	}
}

// parseProjectEvents reads a buffer of inotify events for the watch wd:
// changed when one names the project file, lost when the watched
// directory went away (deleted, moved, or the watch dropped).
func parseProjectEvents(b []byte, wd int) (changed, lost bool) {
	eachInotifyEvent(b, func(evWd int32, mask uint32, name string) {
		if int(evWd) != wd {
			return
		}
		if mask&(unix.IN_DELETE_SELF|unix.IN_MOVE_SELF|unix.IN_IGNORED) != 0 {
			lost = true
		}
		if name == "project" {
			changed = true
		}
	})
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
