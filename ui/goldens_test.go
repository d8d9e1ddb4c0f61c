package ui

import (
	"fmt"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/golden"

	"zonetop/api"
)

// goldenOpts is the console's options for the golden screens: a command
// hook whose `zoneadm list` answers a table, as the real one does.
func goldenOpts() Options {
	return Options{Principal: globalAdmin, Refresh: time.Hour, Now: fixedClock,
		Command: func(line string) (string, error) {
			if strings.HasPrefix(line, "zoneadm list") {
				return zoneadmList(), nil
			}
			return "done", nil
		}}
}

// Every screen the console has, at 80×24 and 160×48, beside the older
// goldens of the table, the detail's tabs, the forms and the `:` views
// (TestGoldenViews, TestGoldenCommandOutput, TestGoldenDetailTabs...).
// footer is a key the screen's own footer must offer, whole: at 80
// columns the footer ends before any key is cut.
func TestGoldenEveryView(t *testing.T) {
	global := api.ZoneInfo{ID: 0, Name: "global", State: "running", Path: "/", Brand: "native", IPType: "shared"}
	tap := func() Backend { return newTapLogin() }
	fake := func() Backend { return &fakeBackend{zones: fixtureZones()} }
	for _, c := range []struct {
		name    string
		backend func() Backend
		steps   []step
		footer  string
	}{
		{"empty", func() Backend { return &fakeBackend{} }, []step{{want: "No zones yet"}}, "n new zone"},
		{"only-global", func() Backend { return &fakeBackend{zones: []api.ZoneInfo{global}} }, []step{{want: "No zones yet"}}, "n new zone"},
		{"filter", fake, []step{{want: "web01"}, {keys: cat(keys("/"), typed("!run"), keys("enter")), want: "scratch"}}, "/ filter"},
		{"help/zones", fake, []step{{want: "web01"}, {keys: keys("?"), want: "uninstall"}}, ""},
		{"help/procs", fake, []step{{want: "web01"}, {keys: colon("procs web01"), want: "sh -c load"}, {keys: keys("?"), want: "by project"}}, ""},
		{"help/logs", fake, []step{{want: "web01"}, {keys: colon("logs web01"), want: "disk quota"}, {keys: keys("?"), want: "search"}}, ""},
		{"help/projects", newEditFakeBackend, []step{{want: "web01"}, {keys: colon("projects"), want: "usage/limit"}, {keys: keys("?"), want: "edit in zone"}}, ""},
		{"help/output", fake, []step{{want: "web01"}, {keys: colon("zoneadm list -cv"), want: "zone00"}, {keys: keys("?"), want: "back"}}, ""},
		{"output", fake, []step{{want: "web01"}, {keys: colon("zoneadm list -cv"), want: "zone00"}}, "esc/q back"},
		{"procs-zone", fake, []step{{want: "web01"}, {keys: colon("procs web01"), want: "sh -c load"}}, "esc/q back"},
		{"procs-project", fake, []step{{want: "web01"}, {keys: colon("procs web01 batch"), want: "sleep 60"}}, "esc/q back"},
		{"logs-paused", fake, []step{{want: "web01"}, {keys: colon("logs web01"), want: "disk quota"}, {keys: keys("g"), want: "paused"}}, "esc/q back"},
		{"editor", fake, []step{{want: "web01"}, {keys: keys("e"), want: "create -F -b"}}, "save"},
		{"confirm/halt", fake, []step{{want: "web01"}, {keys: cat(keys("/"), typed("web01"), keys("enter", "h")), want: "[y/N]"}}, ""},
		{"confirm/delete", fake, []step{{want: "web01"}, {keys: cat(keys("/"), typed("scratch"), keys("enter", "D")), want: "to delete it"}}, ""},
		{"confirm/signal", fake, []step{{want: "web01"}, {keys: colon("procs web01"), want: "sh -c load"}, {keys: keys("k", "enter"), want: "[y/N]"}}, ""},
		{"login-pane", tap, []step{{want: "web01"}, {keys: keys("G", "l"), want: "~. detach"}}, ""},
		{"confirm/quit-with-login", tap, []step{{want: "web01"}, {keys: keys("G", "l"), want: "~. detach"},
			{keys: []tea.Msg{tea.KeyPressMsg{Code: ']', Mod: tea.ModCtrl}, press("q")}, want: "[y/N]"}}, ""},
	} {
		for _, sz := range sizes {
			t.Run(fmt.Sprintf("%s/%dx%d", c.name, sz.w, sz.h), func(t *testing.T) {
				h := &harness{t: t, ch: make(chan tea.Msg, 64)}
				h.m = newModel(c.backend(), goldenOpts())
				t.Cleanup(h.m.cancel)
				t.Cleanup(h.m.closeAllPanes)
				h.update(tea.WindowSizeMsg{Width: sz.w, Height: sz.h})
				h.exec(h.m.Init())
				for _, s := range c.steps {
					h.send(s.want, s.keys...)
				}
				screen := plain(h.m)
				golden.RequireEqual(t, screen)
				if c.footer == "" {
					return
				}
				lines := strings.Split(screen, "\n")
				last := strings.TrimRight(lines[len(lines)-1], " ")
				if !strings.Contains(last, c.footer) || strings.HasSuffix(last, "…") {
					t.Errorf("the footer %q does not offer %q whole", last, c.footer)
				}
			})
		}
	}
}

func newEditFakeBackend() Backend { return newEditFake() }
