package zoneadmd

import (
	"errors"
	"fmt"
	"io/fs"
	"log"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"zonetop/internal/configs"
	"zonetop/internal/pidfd"
	"zonetop/internal/platform"
	"zonetop/internal/wire"

	"golang.org/x/sys/unix"
)

// A zone's limits must hold whether or not its zoneadmd is up, and a
// zoneadmd that dies (killed, crashed) must come back without anyone on
// the host typing a command. zsched cannot start one: it lives inside the
// zone's namespaces and holds nothing of the host. So one small process
// per root prefix, the keeper, holds a connection from every zoneadmd
// whose zone has a platform; a connection that ends while the zone's
// run-time state is still there is a zoneadmd that died, and the keeper
// starts another, which adopts the zone. Each zoneadmd in turn starts a
// keeper when it finds none (the keeper's lock lets one win), so killing
// either side alone heals. Meanwhile zsched leaves the zone's IPC calls
// waiting for the new zoneadmd instead of letting them through unchecked.
//
// The keeper lives only while some zone has a platform: with no
// connection for keeperIdle it exits, and the next ready starts one.

const (
	keeperArg0 = "zonetop-keeper"
	keeperIdle = 3 * time.Second
	// keeperBackoffMax bounds the wait between restarts of a zoneadmd
	// that keeps dying at adoption.
	keeperBackoffMax = 30 * time.Second
	// keeperScanEvery is how often (in seconds) the keeper looks for a
	// zone with a platform whose zoneadmd never reached it: one that died
	// between ready and its first connection, or while its keeper was
	// being replaced.
	keeperScanEvery = 5
)

func keeperSock(root string) string { return filepath.Join(configs.RunBase(root), ".keeper.sock") }
func keeperLock(root string) string { return filepath.Join(configs.RunBase(root), ".keeper.lock") }

// keeperHello is a zoneadmd's first message to the keeper.
type keeperHello struct {
	Zone string `json:"zone"`
}

// keeperMsg is what follows on the connection: a zoneadmd asks the
// keeper to follow its zone's /etc/project (watch, with the zone root)
// or to stop (unwatch); the keeper says when the file changed.
type keeperMsg struct {
	Op   string `json:"op"`
	Root string `json:"root,omitempty"`
}

const (
	keeperWatchOp   = "watch"
	keeperUnwatchOp = "unwatch"
	keeperChangedOp = "project-changed"
)

type keeper struct {
	root   string
	mu     sync.Mutex
	conns  int
	zones  map[string]int  // connections by zone
	active map[string]bool // zones whose restart is under way
	last   time.Time       // when the keeper last had nothing to do
}

// keeperMain is the keeper's entry point: zonetop-keeper ROOT.
func keeperMain(args []string) int {
	platform.CloseInheritedFDs(2)
	if len(args) < 3 {
		fmt.Fprintln(os.Stderr, "keeper: usage: "+keeperArg0+" ROOT")
		return 2
	}
	root := args[2]
	log.SetPrefix("keeper: ")
	log.SetFlags(log.LstdFlags | log.Lmicroseconds)
	// Only a zoneadmd starts a keeper, and a zoneadmd's run directory
	// lies under the run base, which StartZoneadmd makes: a run base
	// that is not there is a root that went away (a test's temp root,
	// a cleared /run) while its zoneadmd was starting this keeper. No
	// zone is left to keep; making the run base again would only leave
	// it behind, so the lock is opened without making a directory.
	lock, err := os.OpenFile(keeperLock(root), os.O_RDWR|os.O_CREATE, 0o600)
	if errors.Is(err, fs.ErrNotExist) {
		return 0
	}
	if err != nil {
		log.Print(err)
		return 1
	}
	defer lock.Close()
	if unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB) != nil {
		return 0 // another keeper serves this root
	}
	_ = lock.Truncate(0)
	_, _ = lock.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	// Out of the scope of the zoneadmd that started it (systemd, cgroup
	// v2): the keeper outlives that zone.
	if cur, _ := selfV2Cgroup(); systemdScopeHost() && cur != "/" {
		if _, err := enterSystemdScope(scopeUnitName(root, "keeper"), "zonetop keeper"); err != nil {
			log.Printf("no systemd scope of its own: %v", err)
		}
	}
	sock := keeperSock(root)
	_ = os.Remove(sock)
	lis, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: sock, Net: "unixpacket"})
	if err != nil {
		log.Print(err)
		return 1
	}
	lis.SetUnlinkOnClose(false)
	_ = os.Chmod(sock, 0o600)
	k := &keeper{root: root, active: map[string]bool{}, zones: map[string]int{}, last: time.Now()}
	go func() {
		for {
			c, err := lis.AcceptUnix()
			if err != nil {
				return
			}
			go k.serve(&wire.Conn{C: c})
		}
	}()
	for i := 0; ; i++ {
		if i%keeperScanEvery == 0 {
			k.scan()
		}
		time.Sleep(time.Second)
		k.mu.Lock()
		idle := k.conns == 0 && len(k.active) == 0 && time.Since(k.last) > keeperIdle
		k.mu.Unlock()
		if idle && k.anyPlatform() {
			// A zone with a platform and no zoneadmd connected: the
			// scan restarts it; the keeper stays for it.
			idle = false
		}
		if idle {
			// Unlink while holding the lock: a zoneadmd that finds no
			// socket starts a new keeper, which takes the lock once this
			// one is gone.
			_ = os.Remove(sock)
			lis.Close()
			return 0
		}
	}
}

func (k *keeper) serve(c *wire.Conn) {
	defer c.Close()
	if err := wire.PeerIsRoot(c.C); err != nil {
		return
	}
	var h keeperHello
	files, err := c.Recv(&h)
	wire.CloseAll(files)
	if err != nil || configs.CheckZoneName(h.Zone) != nil {
		return
	}
	k.mu.Lock()
	k.conns++
	k.zones[h.Zone]++
	k.mu.Unlock()
	// The read returns when zoneadmd is gone; meanwhile it asks for
	// its zone's /etc/project to be followed, on the keeper's one
	// inotify instance.
	var w *projectWatch
	for {
		var m keeperMsg
		files, err := c.Recv(&m)
		wire.CloseAll(files)
		if err != nil {
			break
		}
		switch m.Op {
		case keeperWatchOp:
			if w != nil {
				w.Close()
				w = nil
			}
			if m.Root == "" || !filepath.IsAbs(m.Root) || filepath.Clean(m.Root) != m.Root {
				continue
			}
			w, _ = WatchProjects(m.Root, func() { _ = c.Send(keeperMsg{Op: keeperChangedOp}) })
			// What changed before the watch stood.
			_ = c.Send(keeperMsg{Op: keeperChangedOp})
		case keeperUnwatchOp:
			if w != nil {
				w.Close()
				w = nil
			}
		}
	}
	if w != nil {
		w.Close()
	}
	k.mu.Lock()
	k.conns--
	if k.zones[h.Zone]--; k.zones[h.Zone] <= 0 {
		delete(k.zones, h.Zone)
	}
	k.last = time.Now()
	k.mu.Unlock()
	k.restart(h.Zone)
}

// anyPlatform tells whether some zone of the root prefix has a platform.
func (k *keeper) anyPlatform() bool {
	ents, err := os.ReadDir(configs.RunBase(k.root))
	if err != nil {
		return false
	}
	for _, e := range ents {
		if e.IsDir() && configs.CheckZoneName(e.Name()) == nil && RuntimePresent(k.root, e.Name()) {
			return true
		}
	}
	return false
}

// scan restarts the zoneadmd of every zone that has a platform, is not
// connected and does not answer.
func (k *keeper) scan() {
	ents, err := os.ReadDir(configs.RunBase(k.root))
	if err != nil {
		return
	}
	for _, e := range ents {
		zone := e.Name()
		if !e.IsDir() || configs.CheckZoneName(zone) != nil {
			continue
		}
		k.mu.Lock()
		known := k.zones[zone] > 0 || k.active[zone]
		k.mu.Unlock()
		if !known && RuntimePresent(k.root, zone) && !ZoneadmdRunning(k.root, zone) && !zoneLockHeld(k.root, zone) {
			go k.restart(zone)
		}
	}
}

// restart starts a zoneadmd for zone while the zone's run-time state is
// there and none answers, backing off while one keeps dying.
func (k *keeper) restart(zone string) {
	k.mu.Lock()
	if k.active[zone] {
		k.mu.Unlock()
		return
	}
	k.active[zone] = true
	k.mu.Unlock()
	defer func() {
		k.mu.Lock()
		delete(k.active, zone)
		k.last = time.Now()
		k.mu.Unlock()
	}()
	backoff := 100 * time.Millisecond
	for {
		if !RuntimePresent(k.root, zone) || ZoneadmdRunning(k.root, zone) {
			return
		}
		if zoneLockHeld(k.root, zone) {
			// A zoneadmd is starting or adopting (or the dead one's
			// lock is not yet released): look again shortly.
			time.Sleep(backoff)
			backoff = min(2*backoff, time.Second)
			continue
		}
		err := StartZoneadmd(k.root, zone)
		if err == nil {
			log.Printf("zone %s: its zoneadmd was gone; started another", zone)
			return
		}
		log.Printf("zone %s: restart zoneadmd: %v; again in %v", zone, err, backoff)
		time.Sleep(backoff)
		backoff = min(2*backoff, keeperBackoffMax)
	}
}

// keepAlive holds zoneadmd's connection to the keeper while the zone has
// a platform, starting a keeper when there is none. It returns when stop
// is closed.
func (d *zoneadmd) keepAlive(stop <-chan struct{}) {
	backoff := 10 * time.Millisecond
	for {
		select {
		case <-stop:
			return
		default:
		}
		c, err := wire.Dial(keeperSock(d.root), time.Second)
		if err == nil {
			err = c.Send(keeperHello{Zone: d.name})
		}
		if err != nil {
			if c != nil {
				c.Close()
			}
			if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED) {
				if serr := startKeeper(d.root); serr != nil {
					log.Printf("keeper: %v", serr)
				}
			}
			select {
			case <-stop:
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 5*time.Second)
			continue
		}
		backoff = 10 * time.Millisecond
		d.mu.Lock()
		d.keeperConn = c
		root := d.watchRoot
		d.mu.Unlock()
		if root != "" {
			_ = c.Send(keeperMsg{Op: keeperWatchOp, Root: root})
		}
		gone := make(chan struct{})
		go func() {
			for {
				var m keeperMsg
				files, err := c.Recv(&m)
				wire.CloseAll(files)
				if err != nil {
					close(gone)
					return
				}
				if m.Op != keeperChangedOp {
					continue
				}
				d.mu.Lock()
				root := d.watchRoot
				d.mu.Unlock()
				if root != "" {
					d.projectFileChanged(root)
				}
			}
		}()
		select {
		case <-stop:
		case <-gone:
			// The keeper went away: find or start another.
		}
		d.mu.Lock()
		if d.keeperConn == c {
			d.keeperConn = nil
		}
		d.mu.Unlock()
		c.Close()
		<-gone
		select {
		case <-stop:
			return
		default:
		}
	}
}

// startKeeper starts a keeper for root, detached from zoneadmd; one that
// finds the keeper's lock taken exits at once.
func startKeeper(root string) error {
	if err := os.MkdirAll(configs.LogDir(root), 0o755); err != nil {
		return err
	}
	logf, err := os.OpenFile(filepath.Join(configs.LogDir(root), "keeper.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	null, err := os.Open(os.DevNull)
	if err != nil {
		return err
	}
	defer null.Close()
	pid, err := syscall.ForkExec("/proc/self/exe", []string{keeperArg0, keeperArg0, root}, &syscall.ProcAttr{
		Dir:   "/",
		Env:   configs.ZoneadmdEnv(),
		Files: []uintptr{null.Fd(), null.Fd(), logf.Fd()},
		Sys:   &syscall.SysProcAttr{Setsid: true},
	})
	if err != nil {
		return fmt.Errorf("start keeper: %w", err)
	}
	go func() { _, _ = pidfd.WaitPid(pid) }()
	return nil
}

// KeeperPid is the pid of root's keeper, 0 when none holds its lock.
func KeeperPid(root string) int {
	lock, err := os.OpenFile(keeperLock(root), os.O_RDWR, 0)
	if err != nil {
		return 0
	}
	defer lock.Close()
	if unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil {
		_ = unix.Flock(int(lock.Fd()), unix.LOCK_UN)
		return 0
	}
	b := make([]byte, 32)
	n, _ := lock.ReadAt(b, 0)
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b[:n])))
	return pid
}

// zoneLockHeld tells whether some zoneadmd holds the zone's lock: one
// that is starting, adopting or too busy to answer a ping is alive all
// the same, and a second one started beside it would only wait for it.
func zoneLockHeld(root, zone string) bool {
	f, err := os.OpenFile(ZoneadmdLockPath(root, zone), os.O_RDWR, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	if unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) != nil {
		return true
	}
	_ = unix.Flock(int(f.Fd()), unix.LOCK_UN)
	return false
}
