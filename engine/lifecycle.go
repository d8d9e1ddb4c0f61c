package engine

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
	"zonetop/api"
	"zonetop/internal/configs"
	"zonetop/internal/pathrs"
	"zonetop/internal/platform"
	"zonetop/internal/testhook"
	"zonetop/internal/zoneadmd"
	"zonetop/zones"

	"golang.org/x/sys/unix"
)

// load reads a zone's configuration and index entry together, for an
// operation that will act on it. A configuration that does not verify
// (the store refuses it), or whose zonepath has a symlink on its way on
// this host, is an error: no install, boot, clone or uninstall acts on it.
func (e *Engine) load(name string) (*zones.Config, zones.IndexEntry, error) {
	ent, err := e.store.State(name)
	if err != nil {
		return nil, ent, err
	}
	cfg, _, err := e.store.Load(name)
	if err != nil {
		return nil, ent, err
	}
	if err := e.checkZonepath(cfg); err != nil {
		return nil, ent, err
	}
	return cfg, ent, nil
}

// checkZonepath checks the zone's zonepath on the host; the path is
// joined without cleaning, so a ".." is seen as written.
func (e *Engine) checkZonepath(cfg *zones.Config) error {
	if cfg.Zonepath == "" {
		return nil
	}
	if err := pathrs.CheckZonepathOnHost(e.Root, strings.TrimSuffix(e.Root, "/")+"/"+strings.TrimPrefix(cfg.Zonepath, "/")); err != nil {
		return fmt.Errorf("zone %s: %w", cfg.Name, err)
	}
	return nil
}

// liveState is the zone's state as its supervisor sees it, falling back to
// the index when no supervisor runs.
func (e *Engine) liveState(name string, ent zones.IndexEntry) zones.State {
	zi := api.ZoneInfo{Name: name, State: string(ent.State)}
	e.fillLive(&zi)
	return zones.State(zi.State)
}

// VerifyZone checks a zone's configuration and, for a configured zone, what
// install will need. Every problem is returned.
//
// Its findings name other zones' zonepaths and what the host lacks, so it
// is the manage auth's, as in illumos.
func (e *Engine) VerifyZone(ctx context.Context, p api.Principal, name string) []error {
	if err := e.authorize(p, name, api.ActVerify); err != nil {
		return []error{err}
	}
	cfg, ent, err := e.load(name)
	if err != nil {
		return []error{err}
	}
	var others []*zones.Config
	if list, err := e.store.List(); err == nil {
		for _, o := range list {
			if o.Name == name {
				continue
			}
			if oc, _, err := e.store.Load(o.Name); err == nil {
				others = append(others, oc)
			}
		}
	}
	errs := zones.Verify(cfg, others)
	if len(errs) == 0 {
		// What ready would refuse, verify refuses: the kernel's maxima,
		// privilege names, caps the platform cannot carry.
		if _, err := e.spec(cfg, false); err != nil {
			errs = append(errs, err)
		}
	}
	// A NIC the host lacks is a warning, as illumos warns of a missing
	// zonepath: it may appear (a USB NIC, a bond made at boot).
	for _, n := range cfg.Nets {
		if n.Physical == "" || (cfg.IPType == "exclusive" && n.GlobalNIC == "") {
			continue
		}
		nic := n.Physical
		if cfg.IPType == "exclusive" {
			nic = n.GlobalNIC
		}
		if _, err := net.InterfaceByName(nic); err != nil {
			errs = append(errs, Warning{fmt.Errorf("net physical=%s: this host has no interface %s", n.Physical, nic)})
		}
	}
	if ent.State == zones.StateConfigured {
		errs = append(errs, verifyInstall(e.installOptions(cfg, "", nil))...)
	}
	return errs
}

// Warning is a verify finding that does not stop a zone: it is reported,
// and verify still succeeds.
type Warning struct{ Err error }

func (w Warning) Error() string { return "warning: " + w.Err.Error() }
func (w Warning) Unwrap() error { return w.Err }

func (e *Engine) installOptions(cfg *zones.Config, archive string, progress func(api.Progress)) installParams {
	return installParams{Zonepath: e.hostPath(cfg.Zonepath), Root: e.Root, Brand: cfg.Brand, Archive: archive, ZoneName: cfg.Name, Progress: progress}
}

// InstallZone fills the zone's root by its brand. The zone is incomplete
// while that runs; on failure it goes back to configured with nothing left.
// A zone left incomplete by an interrupted install is cleaned up first.
func (e *Engine) InstallZone(ctx context.Context, p api.Principal, name, archive string, progress func(api.Progress)) (err error) {
	defer e.auditOp(p, name, "install")(&err)
	defer func() { e.note(p, name, "install", err) }()
	if err := e.authorize(p, name, api.ActInstall); err != nil {
		return err
	}
	cfg, ent, err := e.load(name)
	if err != nil {
		return fmt.Errorf("install %s: %w", name, err)
	}
	release, err := e.opLock(name)
	if err != nil {
		return fmt.Errorf("install %s: %w", name, err)
	}
	defer release()
	opts := e.installOptions(cfg, archive, progress)
	prepare := func() error {
		if errs := verifyInstall(opts); len(errs) > 0 {
			return fmt.Errorf("install %s: %w", name, errors.Join(errs...))
		}
		return nil
	}
	return e.fillRoot(ctx, name, "install", cfg, ent, prepare, func() error {
		reports := 0
		inner := opts.Progress
		opts.Progress = func(pr api.Progress) {
			if reports++; reports == 2 {
				testhook.TestPause(e.Root, "install-mid")
			}
			if inner != nil {
				inner(pr)
			}
		}
		if err := installRoot(ctx, opts); err != nil {
			return fmt.Errorf("install %s: %w", name, err)
		}
		return nil
	})
}

// fillRoot is what install and clone share: a zone left incomplete by an
// earlier attempt is cleaned up, the zone must be configured and verify,
// prepare (if any) checks the rest, and fill runs with the zone
// incomplete ("OP under way"). The zone ends installed, or configured again
// if fill failed (fill removes what it made). The caller holds the zone's
// operation lock.
func (e *Engine) fillRoot(ctx context.Context, name, op string, cfg *zones.Config, ent zones.IndexEntry, prepare, fill func() error) error {
	if ent.State == zones.StateIncomplete {
		if err := uninstallBeneath(ctx, e.Root, e.hostPath(cfg.Zonepath), true); err != nil {
			return fmt.Errorf("%s %s: clean up the earlier incomplete install: %w", op, name, err)
		}
		if err := e.store.SetState(name, []zones.State{zones.StateIncomplete}, zones.StateConfigured, ""); err != nil {
			return fmt.Errorf("%s %s: %w", op, name, err)
		}
		ent.State = zones.StateConfigured
	}
	// The live state: a running zone is not "installed" to the operator.
	if err := zones.CheckOp(name, e.liveState(name, ent), "install"); err != nil {
		return err
	}
	if errs := zones.Verify(cfg, nil); len(errs) > 0 {
		return fmt.Errorf("%s %s: configuration does not verify: %w", op, name, errors.Join(errs...))
	}
	if prepare != nil {
		if err := prepare(); err != nil {
			return err
		}
	}
	if err := e.store.SetState(name, []zones.State{zones.StateConfigured}, zones.StateIncomplete, op+" under way"); err != nil {
		return fmt.Errorf("%s %s: %w", op, name, err)
	}
	testhook.TestPause(e.Root, op+"-begin")
	if err := fill(); err != nil {
		if serr := e.store.SetState(name, []zones.State{zones.StateIncomplete}, zones.StateConfigured, ""); serr != nil {
			return fmt.Errorf("%w (and the zone stays incomplete: %v)", err, serr)
		}
		return err
	}
	testhook.TestPause(e.Root, op+"-end")
	return e.store.SetState(name, []zones.State{zones.StateIncomplete}, zones.StateInstalled, "")
}

// CloneZone installs configured zone name as a copy of installed zone
// source, as illumos' zoneadm clone does (copy method): same brand, the
// new name in /etc/hostname and /etc/hosts. The source is held installed
// for the copy: its zoneadmd lock is taken, so it cannot be readied, and
// its operation lock, so it cannot be uninstalled. As with install, the new
// zone is incomplete while the copy runs and back to configured, with
// nothing left, if it fails.
func (e *Engine) CloneZone(ctx context.Context, p api.Principal, name, source string, progress func(api.Progress)) (err error) {
	defer e.auditOp(p, name, "clone from "+source)(&err)
	defer func() { e.note(p, name, "clone", err) }()
	if err := e.authorize(p, name, api.ActInstall); err != nil {
		return err
	}
	if err := e.authorize(p, source, api.ActCloneFrom); err != nil {
		return err
	}
	if source == name {
		return fmt.Errorf("clone %s: %w: a zone cannot be cloned from itself", name, api.ErrInvalid)
	}
	cfg, ent, err := e.load(name)
	if err != nil {
		return fmt.Errorf("clone %s: %w", name, err)
	}
	scfg, sent, err := e.load(source)
	if err != nil {
		return fmt.Errorf("clone %s from %s: %w", name, source, err)
	}
	if brandName(cfg.Brand) != brandName(scfg.Brand) {
		return fmt.Errorf("clone %s from %s: %s is of brand %s and %s of brand %s; a clone keeps its source's brand",
			name, source, source, brandName(scfg.Brand), name, brandName(cfg.Brand))
	}
	release, err := e.opLock(name)
	if err != nil {
		return fmt.Errorf("clone %s: %w", name, err)
	}
	defer release()
	// Asked before the locks too, so a running source is named as such
	// rather than as a zone whose zoneadmd holds its lock.
	if err := zones.CheckOp(source, e.liveState(source, sent), "clone-source"); err != nil {
		return fmt.Errorf("clone %s: %w", name, err)
	}
	releaseSrc, err := e.opLock(source)
	if err != nil {
		return fmt.Errorf("clone %s from %s: %w", name, source, err)
	}
	defer releaseSrc()
	holdSrc, err := e.holdPlatformLock(source)
	if err != nil {
		return fmt.Errorf("clone %s from %s: %w", name, source, err)
	}
	defer holdSrc()
	if err := zones.CheckOp(source, e.liveState(source, sent), "clone-source"); err != nil {
		return fmt.Errorf("clone %s: %w", name, err)
	}
	opts := cloneParams{Zonepath: e.hostPath(cfg.Zonepath), Root: e.Root, SourceRoot: filepath.Join(e.hostPath(scfg.Zonepath), "root"),
		ZoneName: name, SourceName: source, Progress: progress}
	return e.fillRoot(ctx, name, "clone", cfg, ent, nil, func() error { return cloneRoot(ctx, opts) })
}

// UninstallZone removes the zone's root; the configuration stays.
func (e *Engine) UninstallZone(ctx context.Context, p api.Principal, name string, force bool) (err error) {
	defer e.auditOp(p, name, "uninstall")(&err)
	defer func() { e.note(p, name, "uninstall", err) }()
	if err := e.authorize(p, name, api.ActUninstall); err != nil {
		return err
	}
	cfg, ent, err := e.load(name)
	if err != nil {
		return fmt.Errorf("uninstall %s: %w", name, err)
	}
	release, err := e.opLock(name)
	if err != nil {
		return fmt.Errorf("uninstall %s: %w", name, err)
	}
	defer release()
	if ent.State != zones.StateIncomplete {
		if err := zones.CheckOp(name, e.liveState(name, ent), "uninstall"); err != nil {
			return err
		}
	}
	if err := e.store.SetState(name, []zones.State{zones.StateInstalled, zones.StateIncomplete}, zones.StateIncomplete, "uninstall under way"); err != nil {
		return fmt.Errorf("uninstall %s: %w", name, err)
	}
	if err := uninstallBeneath(ctx, e.Root, e.hostPath(cfg.Zonepath), force); err != nil {
		return fmt.Errorf("uninstall %s: %w (the zone stays incomplete; run uninstall -F again once that is fixed)", name, err)
	}
	// Nothing on disk carries the zone's host id range any more.
	if err := platform.ReleaseUserns(e.Root, name); err != nil {
		return fmt.Errorf("uninstall %s: release its user namespace range: %w", name, err)
	}
	return e.store.SetState(name, []zones.State{zones.StateIncomplete}, zones.StateConfigured, "")
}

// ReadyZone brings an installed zone's virtual platform up with no user
// processes in it.
// The index is not written: ready is the supervisor's state (record).
func (e *Engine) ReadyZone(ctx context.Context, p api.Principal, name string) (_ api.ZoneStatus, err error) {
	au := e.auditLater(p, name, "ready")
	defer au.done(&err)
	defer func() { e.note(p, name, "ready", err) }()
	if err := e.authorize(p, name, api.ActReady); err != nil {
		return api.ZoneStatus{}, err
	}
	cfg, ent, err := e.load(name)
	if err != nil {
		return api.ZoneStatus{}, fmt.Errorf("ready %s: %w", name, err)
	}
	return e.readyLoaded(name, cfg, e.liveState(name, ent), au)
}

// readyLoaded is ready for a zone whose configuration and live state
// the caller has just read (boot reads both, and reading them again cost
// each boot a second parse of the zone's XML and of its state.json).
func (e *Engine) readyLoaded(name string, cfg *zones.Config, live zones.State, au *opAudit) (api.ZoneStatus, error) {
	au.sawState(live)
	if err := zones.CheckOp(name, live, "ready"); err != nil {
		return api.ZoneStatus{}, err
	}
	if live == zones.StateInstalled && e.opRunning(name) {
		// A clone copying from it, or an uninstall, holds the zone; its
		// zoneadmd would wait for the platform lock and then give up.
		return api.ZoneStatus{}, fmt.Errorf("zone %s is held by another operation (a clone from it, or an uninstall): %w; try again when it ends", name, api.ErrBusy)
	}
	spec, err := e.platformSpec(cfg)
	if err != nil {
		return api.ZoneStatus{}, fmt.Errorf("ready %s: %w", name, err)
	}
	testhook.TestPause(e.Root, "ready-begin")
	st, err := e.ops.Ready(spec)
	if err != nil {
		if strings.HasPrefix(err.Error(), "ready "+name+": ") {
			return st, err // zoneadmd's own words already say where
		}
		return st, fmt.Errorf("ready %s: %w", name, err)
	}
	au.endedIn(st)
	testhook.TestPause(e.Root, "ready-end")
	return st, nil
}

// BootZone starts the zone's init, passing through ready when the zone is
// only installed.
func (e *Engine) BootZone(ctx context.Context, p api.Principal, name string, args []string) (_ api.ZoneStatus, err error) {
	au := e.auditLater(p, name, "boot")
	defer au.done(&err)
	defer func() { e.note(p, name, "boot", err) }()
	if err := e.authorize(p, name, api.ActBoot); err != nil {
		return api.ZoneStatus{}, err
	}
	// The configuration is read even when ready does not follow: a
	// damaged file is named whatever the state.
	cfg, ent, err := e.load(name)
	if err != nil {
		return api.ZoneStatus{}, fmt.Errorf("boot %s: %w", name, err)
	}
	state := e.liveState(name, ent)
	au.sawState(state)
	if err := zones.CheckOp(name, state, "boot"); err != nil {
		return api.ZoneStatus{}, err
	}
	if state == zones.StateInstalled {
		// Authorized for boot is authorized for the ready it implies
		// (ActReady is granted with ActBoot, authz.go): ready on what
		// was read above, under its own audit record as before.
		if err := e.authorize(p, name, api.ActReady); err != nil {
			return api.ZoneStatus{}, fmt.Errorf("boot %s: %w", name, err)
		}
		rau := e.auditLater(p, name, "ready")
		_, rerr := e.readyLoaded(name, cfg, state, rau)
		rau.done(&rerr)
		e.note(p, name, "ready", rerr)
		if rerr != nil {
			return api.ZoneStatus{}, fmt.Errorf("boot %s: %w", name, rerr)
		}
	}
	testhook.TestPause(e.Root, "boot-begin")
	st, err := e.ops.Boot(name, args)
	if err != nil {
		if strings.HasPrefix(err.Error(), "boot "+name+": ") {
			return st, err // zoneadmd's own words already say where
		}
		return st, fmt.Errorf("boot %s: %w", name, err)
	}
	au.endedIn(st)
	return st, nil
}

// HaltZone tears the zone's platform down. A halt that cannot finish leaves
// the zone down with the reason; running halt again finishes the job.
func (e *Engine) HaltZone(ctx context.Context, p api.Principal, name string) (_ api.ZoneStatus, err error) {
	au := e.auditLater(p, name, "halt")
	defer au.done(&err)
	defer func() { e.note(p, name, "halt", err) }()
	if err := e.authorize(p, name, api.ActHalt); err != nil {
		return api.ZoneStatus{}, err
	}
	ent, err := e.store.State(name)
	if err != nil {
		return api.ZoneStatus{}, fmt.Errorf("halt %s: %w", name, err)
	}
	// With a platform there in a state halt applies to, zoneadmd halts
	// whatever it holds now (ready, running, shutting down, down): its
	// status is not asked first.
	live, up := zoneadmd.RuntimeState(e.Root, name)
	if !up || zones.CheckOp(name, live, "halt") != nil {
		live = e.liveState(name, ent)
	}
	au.sawState(live)
	if err := zones.CheckOp(name, live, "halt"); err != nil {
		return api.ZoneStatus{}, err
	}
	st, herr := e.ops.Halt(name)
	if herr == nil {
		au.endedIn(api.ZoneStatus{State: string(zones.StateInstalled)})
	}
	if rerr := e.record(name, st); rerr != nil && herr == nil {
		herr = rerr
	}
	if herr != nil {
		return st, fmt.Errorf("halt %s: %w", name, herr)
	}
	return st, nil
}

// ShutdownZone runs the zone's shutdown entries for at most timeout, then
// halts it.
func (e *Engine) ShutdownZone(ctx context.Context, p api.Principal, name string, timeout time.Duration) (_ api.ZoneStatus, err error) {
	defer e.auditOp(p, name, "shutdown")(&err)
	defer func() { e.note(p, name, "shutdown", err) }()
	if err := e.authorize(p, name, api.ActShutdown); err != nil {
		return api.ZoneStatus{}, err
	}
	ent, err := e.store.State(name)
	if err != nil {
		return api.ZoneStatus{}, fmt.Errorf("shutdown %s: %w", name, err)
	}
	if err := zones.CheckOp(name, e.liveState(name, ent), "shutdown"); err != nil {
		return api.ZoneStatus{}, err
	}
	st, serr := e.ops.Shutdown(name, timeout)
	if rerr := e.record(name, st); rerr != nil && serr == nil {
		serr = rerr
	}
	if serr != nil {
		return st, fmt.Errorf("shutdown %s: %w", name, serr)
	}
	return st, nil
}

// RebootZone is halt then boot; the zone comes back with a new zone ID.
func (e *Engine) RebootZone(ctx context.Context, p api.Principal, name string, args []string) (_ api.ZoneStatus, err error) {
	defer func() { e.note(p, name, "reboot", err) }()
	if _, err := e.HaltZone(ctx, p, name); err != nil {
		return api.ZoneStatus{}, fmt.Errorf("reboot %s: %w", name, err)
	}
	return e.BootZone(ctx, p, name, args)
}

// record brings the index in line with the supervisor's answer. Only
// installed goes there: ready, running, shutting down and down are the
// supervisor's own (its state.json, see runtimeState) and end with the
// platform, as they end with a host restart. Neither boot nor halt then
// rewrites the index (two fsyncs, ~0.6 ms each time); halt only mends an
// index that still holds a runtime state from an older zonetop.
func (e *Engine) record(name string, st api.ZoneStatus) error {
	switch zones.State(st.State) {
	case "", "none", zones.StateInstalled:
		return e.store.SetState(name, nil, zones.StateInstalled, "")
	}
	return nil
}

// opLockPath is the lock an install or uninstall holds on its zone for as
// long as the process doing it lives. The kernel drops it when that
// process dies, so a listing can tell an operation under way from one
// that was killed and left the zone incomplete.
func (e *Engine) opLockPath(name string) string {
	return filepath.Join(configs.RunBase(e.Root), "."+name+".op")
}

// opLock takes the zone's operation lock; release drops it.
func (e *Engine) opLock(name string) (release func(), err error) {
	if err := os.MkdirAll(configs.RunBase(e.Root), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(e.opLockPath(name), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("another install, clone or uninstall of zone %s is under way: %w", name, api.ErrBusy)
	}
	return func() {
		_ = os.Remove(f.Name())
		f.Close()
	}, nil
}

// holdPlatformLock takes the zone's zoneadmd lock, so no zoneadmd can start
// for it (no ready, no boot, no console) until release.
func (e *Engine) holdPlatformLock(name string) (release func(), err error) {
	if err := os.MkdirAll(configs.RunBase(e.Root), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(zoneadmd.ZoneadmdLockPath(e.Root, name), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("zone %s has a zoneadmd (it is up, or a console is attached to it): %w; halt it or detach, then try again", name, api.ErrConflict)
	}
	return func() { f.Close() }, nil
}

// opRunning reports whether some process holds the zone's operation lock.
func (e *Engine) opRunning(name string) bool {
	f, err := os.Open(e.opLockPath(name))
	if err != nil {
		return false
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB); err != nil {
		return true
	}
	_ = unix.Flock(int(f.Fd()), unix.LOCK_UN)
	return false
}

// incompleteReason says what an incomplete zone's recorded reason means
// now: an operation "under way" whose process is gone was interrupted.
func (e *Engine) incompleteReason(name, reason string) string {
	op, found := strings.CutSuffix(reason, " under way")
	if !found || e.opRunning(name) {
		return reason
	}
	return op + " interrupted; run it again, or uninstall -F"
}

func init() { zoneadmd.DelegatedLifecycle = runDelegated }

// runDelegated is a delegated user's life-cycle call that reached the
// zone's zoneadmd directly (see delegatedLifecycle).
func runDelegated(ctx context.Context, root string, p api.Principal, name, op string, args []string, timeout time.Duration, ops zoneadmd.Ops) (api.ZoneStatus, error) {
	e, err := New(root, "")
	if err != nil {
		return api.ZoneStatus{}, err
	}
	e.ops = ops
	switch op {
	case "ready":
		return e.ReadyZone(ctx, p, name)
	case "boot":
		return e.BootZone(ctx, p, name, args)
	case "halt":
		return e.HaltZone(ctx, p, name)
	case "shutdown":
		return e.ShutdownZone(ctx, p, name, timeout)
	}
	return api.ZoneStatus{}, fmt.Errorf("%s: %w: not a life-cycle operation", op, api.ErrInvalid)
}
