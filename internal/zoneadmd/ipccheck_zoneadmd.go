package zoneadmd

import (
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strconv"
	"time"
	"zonetop/api"
	"zonetop/internal/configs"
	"zonetop/internal/platform"
	"zonetop/internal/wire"
	"zonetop/limits"
	"zonetop/rctl"
)

// ipcSupervisor is zoneadmd's running IPC check: the listener fetched from
// zsched (on a connection kept open, which tells zsched to stay quiet),
// the checker and the goroutine serving it.
type ipcSupervisor struct {
	conn     *wire.Conn
	listener *os.File
	checker  *ipcChecker
	stop     chan struct{}
	stopR    *os.File
	stopW    *os.File
	done     chan struct{}
}

// startIPCCheck fetches the zone's seccomp listener from zsched and starts
// answering the zone's shmget/semget/msgget calls. A zone without the
// filter (an architecture it is not written for) runs without the check,
// which is logged.
func (d *zoneadmd) startIPCCheck() error {
	d.mu.Lock()
	spec, st, cg, running := d.spec, d.st, d.cg, d.ipc != nil
	d.mu.Unlock()
	if running || spec == nil {
		return nil
	}
	c, err := wire.Dial(d.zschedSock(), 2*time.Second)
	if err != nil {
		return fmt.Errorf("ipc check: zsched: %w", err)
	}
	if err := c.Send(wire.Request{Op: "seccomp"}); err != nil {
		c.Close()
		return fmt.Errorf("ipc check: %w", err)
	}
	var resp wire.Response
	files, err := c.Recv(&resp)
	if err == nil && (!resp.OK || len(files) != 1) {
		err = api.FromWire(resp.Error, resp.Code)
	}
	if err != nil {
		wire.CloseAll(files)
		c.Close()
		if errors.Is(err, platform.ErrIPCFilterUnsupported) || resp.Error == "zsched: no System V IPC filter in this zone" {
			log.Printf("project IPC limits are not enforced: %v", err)
			return nil
		}
		return fmt.Errorf("ipc check: seccomp listener: %w", err)
	}
	s := &ipcSupervisor{conn: c, listener: files[0], stop: make(chan struct{}), done: make(chan struct{})}
	fail := func(err error) error {
		s.listener.Close()
		c.Close()
		return fmt.Errorf("ipc check: %w", err)
	}
	if !zschedAlive(st.ZschedPid, st.ZschedStart) {
		return fail(errors.New("zsched is gone"))
	}
	tables, err := ipcTableFiles("/proc/" + strconv.Itoa(st.ZschedPid) + "/ns/ipc")
	if err != nil {
		return fail(err)
	}
	zone := limits.NewTree().Zone(d.name)
	ch := newIPCChecker(zone, tables)
	ch.setPace(spec.Rctls[rctl.ZoneCPUCap])
	if err := ch.setZoneLimits(spec.IPCRctls); err != nil {
		ch.close()
		return fail(err)
	}
	var dirs []string
	if cg != nil {
		dirs = cg.Dirs
	}
	rels := zoneCgroupRels(dirs)
	ch.projOf = func(pid int) string { return cgroupProject(ch.procs, pid, rels) }
	ch.projects = zoneProjectsReader(filepath.Join(spec.Zonepath, "root"), log.Printf)
	ch.loadState(filepath.Join(d.dir, "ipc.json"))
	// Every granted object is made by zoneadmd: without the maker no
	// creation could be counted, so the check does not start.
	ns, err := os.Open("/proc/" + strconv.Itoa(st.ZschedPid) + "/ns/ipc")
	if err == nil {
		ch.maker, err = newIPCMaker(ns)
		ns.Close()
	}
	if err != nil {
		ch.close()
		return fail(fmt.Errorf("object maker: %w", err))
	}
	if d.hub != nil {
		ch.notice = d.hub.Notice
	}
	s.checker = ch
	// Count what the zone already holds (an adopted zone) before the
	// totals can be asked for.
	ch.tick()
	if s.stopR, s.stopW, err = os.Pipe(); err != nil {
		ch.close()
		return fail(err)
	}
	d.mu.Lock()
	d.ipc = s
	d.mu.Unlock()
	go func() {
		defer close(s.done)
		ch.run(s.listener, s.stop, int(s.stopR.Fd()))
	}()
	return nil
}

// stopIPCCheck ends the check (the zone is being halted); forget drops the
// recorded attribution with it.
func (d *zoneadmd) stopIPCCheck(forget bool) {
	d.mu.Lock()
	s := d.ipc
	d.ipc = nil
	d.mu.Unlock()
	if s != nil {
		close(s.stop)
		s.stopW.Close()
		<-s.done
		s.stopR.Close()
		s.checker.close()
		s.listener.Close()
		s.conn.Close()
	}
	if forget {
		_ = os.Remove(filepath.Join(d.dir, "ipc.json"))
		_ = os.Remove(filepath.Join(d.dir, "ipc.journal"))
	}
}

// ipcUsage reports the zone's and its projects' IPC totals, reconciled
// first with the kernel's tables (up to a second's wait): an ipcusage
// request asks for exact figures.
func (d *zoneadmd) ipcUsage() []api.IPCUsage { return d.ipcTotals(true) }

// ipcTotals reports the totals; with reconcile it first has the check
// take in what was removed since its last look (the check reconciles at
// its own pace only while it has work to do). The usage sampling every
// front end does each second reads them as they stand, without making
// the check read the zone's tables for it.
func (d *zoneadmd) ipcTotals(reconcile bool) []api.IPCUsage {
	d.mu.Lock()
	s := d.ipc
	d.mu.Unlock()
	if s == nil {
		return nil
	}
	if reconcile {
		s.checker.requestTick(time.Second)
	}
	row := func(n *limits.Node, name string) api.IPCUsage {
		u := api.IPCUsage{Project: name, Used: map[string]uint64{}, Limit: map[string]uint64{}}
		for _, r := range ipcRctls {
			res := rctl.Resource(r)
			u.Used[r] = n.Usage(res).Used
			if l, _, ok := n.EffectiveLimit(res); ok {
				u.Limit[r] = l
			}
		}
		return u
	}
	out := []api.IPCUsage{row(s.checker.zone, "")}
	for _, p := range s.checker.zone.Children() {
		out = append(out, row(p, p.Name()))
	}
	return out
}

// IPCUsageOf reports a ready or running zone's System V IPC totals, the
// zone first (Project "") and then each project that has used any.
func IPCUsageOf(rootPrefix, name string) ([]api.IPCUsage, error) {
	if err := configs.CheckZoneName(name); err != nil {
		return nil, err
	}
	resp, err := wire.RoundTrip(configs.ZoneadmdSock(rootPrefix, name), wire.Request{Op: "ipcusage"})
	if err != nil {
		return nil, fmt.Errorf("zoneadmd %s: %w", name, err)
	}
	if !resp.OK {
		return nil, api.FromWire(resp.Error, resp.Code)
	}
	return resp.IPC, nil
}
