package ui

import (
	"context"
	"strings"
	"testing"
	"zonetop/api"
)

// hostile is what an unprivileged zone user can put into a name: an OSC
// that retitles the terminal, and a carriage return and newline that
// start a forged line.
const hostile = "evil\x1b]0;owned\x07\r\nforged: zone halted"

// hostileFake is a backend whose zone-supplied strings (events, project
// names, processes, a zone's reason) carry escape sequences.
type hostileFake struct{ usageFake }

func (f hostileFake) Events(_ api.Principal, zone string) []api.Event {
	return []api.Event{{Time: fixedNow, Zone: zone, Op: "proj\x1b[2J", Result: "refused: " + hostile, Failed: true}}
}

func (f hostileFake) Usage(ctx context.Context, p api.Principal, zone string) (ZoneUsage, error) {
	u, err := f.usageFake.Usage(ctx, p, zone)
	u.Projects = append(u.Projects, ProjectUsage{Name: hostile, ID: 9})
	return u, err
}

func (f hostileFake) Processes(_ context.Context, _ api.Principal, zone string) ([]api.Process, error) {
	return []api.Process{{PID: 7, Project: "default", User: "u\x1b[8m", Command: "sh " + hostile}}, nil
}

// noRawControls fails if the screen holds what the zone sent raw: the
// OSC, the BEL, a carriage return, the erase; lipgloss' own SGR styling
// is the only escape sequence allowed.
func noRawControls(t *testing.T, what, screen string) {
	t.Helper()
	for _, bad := range []string{"\x1b]", "\x07", "\r", "\x1b[2J", "\x1b[8m"} {
		if strings.Contains(screen, bad) {
			t.Errorf("%s: screen holds %q raw", what, bad)
		}
	}
}

func TestZoneStringsShownEscaped(t *testing.T) {
	zs := fixtureZones()[:1]
	zs[0].Reason = hostile
	b := hostileFake{usageFake{&fakeBackend{zones: zs}}}
	h := newHarness(t, b, globalAdmin, 160, 40)
	h.send("1 running")
	noRawControls(t, "zone list", h.m.View().Content)
	h.send(`refused: evil\x1b]0;owned\x07\x0d\x0aforged`, keys("enter", "7")...)
	noRawControls(t, "Events tab", h.m.View().Content)
	if !strings.Contains(plain(h.m), `proj\x1b[2J`) {
		t.Errorf("Events tab: op not shown escaped:\n%s", plain(h.m))
	}
	// The grid cuts a long name; what it shows is escaped.
	h.send(`evil\x1b]0;own`, keys("3")...)
	noRawControls(t, "Projects tab", h.m.View().Content)
	h.send(`sh evil\x1b]0;owned`, keys("4")...)
	noRawControls(t, "Processes tab", h.m.View().Content)
}
