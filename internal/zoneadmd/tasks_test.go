package zoneadmd

import (
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"zonetop/api"
	"zonetop/limits"
	"zonetop/limits/cgroups"
)

// fakeTasks is a cgroup backend in memory: a group is populated while
// procs says so, and Delete fails while failDeletes is above zero, as a
// group that is still emptying does.
type fakeTasks struct {
	mu     sync.Mutex
	groups map[string]*fakeGroup
}

type fakeGroup struct {
	b           *fakeTasks
	rel         string
	procs       int
	failDeletes int
	gone        bool
}

func (b *fakeTasks) Mode() cgroups.Mode { return cgroups.ModeUnified }

func (b *fakeTasks) Create(rel string, _ *cgroups.Resources) (cgroups.Group, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if g, ok := b.groups[rel]; ok {
		return g, nil
	}
	g := &fakeGroup{b: b, rel: rel}
	b.groups[rel] = g
	return g, nil
}

func (b *fakeTasks) Load(rel string) (cgroups.Group, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if g, ok := b.groups[rel]; ok {
		return g, nil
	}
	return nil, errors.New("no such group")
}

func (g *fakeGroup) Path() string                     { return g.rel }
func (g *fakeGroup) Apply(*cgroups.Resources) error   { return nil }
func (g *fakeGroup) AddProc(int) error                { g.b.mu.Lock(); g.procs++; g.b.mu.Unlock(); return nil }
func (g *fakeGroup) Procs(bool) ([]int, error)        { return nil, nil }
func (g *fakeGroup) Stats() (cgroups.Stats, error)    { return cgroups.Stats{}, nil }
func (g *fakeGroup) Counters() (cgroups.Stats, error) { return cgroups.Stats{}, nil }
func (g *fakeGroup) Freeze() error                    { return nil }
func (g *fakeGroup) Thaw() error                      { return nil }
func (g *fakeGroup) Kill() error                      { return nil }
func (g *fakeGroup) Delegate() error                  { return nil }

func (g *fakeGroup) Populated() (bool, error) {
	g.b.mu.Lock()
	defer g.b.mu.Unlock()
	return g.procs > 0, nil
}

func (g *fakeGroup) Delete() error {
	g.b.mu.Lock()
	defer g.b.mu.Unlock()
	if g.procs > 0 || g.failDeletes > 0 {
		g.failDeletes--
		return errors.New("busy")
	}
	delete(g.b.groups, g.rel)
	g.gone = true
	return nil
}

func taskLimits(t *testing.T, line string) (*zoneLimits, *fakeTasks) {
	t.Helper()
	ps, errs := limits.ParseProjects(strings.NewReader(line+"\n"), "/etc/project")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	b := &fakeTasks{groups: map[string]*fakeGroup{}}
	return &zoneLimits{back: b, name: "z", projects: ps, groups: map[string]cgroups.Group{},
		tasks: map[int]taskGroup{}, sockTasks: map[int]bool{}, nextTask: 1, rctls: map[string]uint64{}}, b
}

func newTask(l *zoneLimits) (int, error) {
	_, id, _, err := l.placement(&api.ExecRequest{Project: "web", NewTask: true})
	return id, err
}

// project.max-tasks holds under a race: of many newtasks at once exactly
// the limit's number get a task, although none has its process in yet
// (a held command is moved in only after its runtime started).
func TestMaxTasksHoldsUnderRace(t *testing.T) {
	l, _ := taskLimits(t, "web:100::::project.max-tasks=(privileged,3,deny)")
	var wg sync.WaitGroup
	var mu sync.Mutex
	got := 0
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := newTask(l); err == nil {
				mu.Lock()
				got++
				mu.Unlock()
			} else if !strings.Contains(err.Error(), "project.max-tasks is 3") {
				t.Errorf("refusal does not name the control: %v", err)
			}
		}()
	}
	wg.Wait()
	if got != 3 {
		t.Fatalf("%d tasks made, want exactly 3", got)
	}
}

// A task whose command ended stops counting even when removing its
// cgroup failed when its command returned: the count follows what the
// kernel says, not what zonetop remembered.
func TestMaxTasksEndedTaskMakesRoom(t *testing.T) {
	l, b := taskLimits(t, "web:100::::project.max-tasks=(privileged,2,deny)")
	var ids []int
	for range 2 {
		id, err := newTask(l)
		if err != nil {
			t.Fatal(err)
		}
		g := b.groups["z/web/task."+itoa(id)]
		_ = g.AddProc(1)
		l.taskStarted(id)
		ids = append(ids, id)
	}
	if _, err := newTask(l); err == nil {
		t.Fatal("a third task passed project.max-tasks=2")
	}
	// The first task's process exits; its cgroup is still emptying when
	// its command's end is reported.
	g := b.groups["z/web/task."+itoa(ids[0])]
	b.mu.Lock()
	g.procs, g.failDeletes = 0, 1
	b.mu.Unlock()
	l.endTask(ids[0])
	if g.gone {
		t.Fatal("fake: the first removal should have failed")
	}
	if _, err := newTask(l); err != nil {
		t.Fatalf("no new task after one ended: %v", err)
	}
	if !g.gone {
		t.Error("the ended task's cgroup was not removed at the next count")
	}
	// A task just made, its process not yet in, counts and is not swept.
	if _, err := newTask(l); err == nil {
		t.Fatal("a task passed project.max-tasks=2 while another was starting")
	}
	l.sweepSocketTasks()
	if n := len(l.tasks); n != 2 {
		t.Errorf("%d tasks remembered, want 2", n)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
