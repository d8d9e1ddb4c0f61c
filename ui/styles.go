package ui

import (
	"image/color"

	"charm.land/bubbles/v2/help"
	"charm.land/lipgloss/v2"
)

// Styles holds every style the console draws with, so a theme is one value
// and components never invent colours of their own.
type Styles struct {
	App        lipgloss.Style
	Title      lipgloss.Style
	HeaderKey  lipgloss.Style
	HeaderVal  lipgloss.Style
	Clock      lipgloss.Style
	Who        lipgloss.Style
	WhoLimited lipgloss.Style

	TableHeader  lipgloss.Style
	SortedHeader lipgloss.Style
	Selected     lipgloss.Style
	Reason       lipgloss.Style
	OK           lipgloss.Style
	Warn         lipgloss.Style
	Alarm        lipgloss.Style
	Tab          lipgloss.Style
	ActiveTab    lipgloss.Style
	PaneTitle    lipgloss.Style
	PaneFocus    lipgloss.Style

	// State colours rows and the header's counts; unknown states fall back
	// to StateDefault so a new engine state still draws.
	State        map[string]lipgloss.Style
	StateDefault lipgloss.Style

	Empty     lipgloss.Style
	EmptyCode lipgloss.Style

	StatusInfo  lipgloss.Style
	StatusError lipgloss.Style
	Prompt      lipgloss.Style
	TooSmall    lipgloss.Style

	Help help.Styles
}

var (
	colGreen  color.Color = lipgloss.Color("#5FD75F")
	colCyan   color.Color = lipgloss.Color("#5FD7D7")
	colBlue   color.Color = lipgloss.Color("#87AFFF")
	colGrey   color.Color = lipgloss.Color("#8A8A8A")
	colYellow color.Color = lipgloss.Color("#D7D75F")
	colOrange color.Color = lipgloss.Color("#FFAF5F")
	colRed    color.Color = lipgloss.Color("#FF5F5F")
	colText   color.Color = lipgloss.Color("#D0D0D0")
	colDim    color.Color = lipgloss.Color("#6C6C6C")
	colAccent color.Color = lipgloss.Color("#AF87FF")
	colSelBg  color.Color = lipgloss.Color("#3A3A5A")
)

// DefaultStyles is the dark theme zonetop ships with.
func DefaultStyles() *Styles {
	s := &Styles{}
	s.App = lipgloss.NewStyle()
	s.Title = lipgloss.NewStyle().Bold(true).Foreground(colAccent)
	s.HeaderKey = lipgloss.NewStyle().Foreground(colDim)
	s.HeaderVal = lipgloss.NewStyle().Foreground(colText)
	s.Clock = lipgloss.NewStyle().Foreground(colText)
	s.Who = lipgloss.NewStyle().Bold(true).Foreground(colOrange)
	s.WhoLimited = lipgloss.NewStyle().Bold(true).Foreground(colCyan)

	s.TableHeader = lipgloss.NewStyle().Bold(true).Foreground(colDim)
	s.SortedHeader = lipgloss.NewStyle().Bold(true).Foreground(colAccent)
	s.Selected = lipgloss.NewStyle().Background(colSelBg).Bold(true)
	s.Reason = lipgloss.NewStyle().Foreground(colRed)
	s.OK = lipgloss.NewStyle().Foreground(colGreen)
	s.Warn = lipgloss.NewStyle().Foreground(colYellow)
	s.Alarm = lipgloss.NewStyle().Foreground(colRed).Bold(true)
	s.Tab = lipgloss.NewStyle().Foreground(colDim).Padding(0, 1)
	s.ActiveTab = lipgloss.NewStyle().Foreground(colAccent).Bold(true).Underline(true).Padding(0, 1)
	s.PaneTitle = lipgloss.NewStyle().Foreground(colText).Background(lipgloss.Color("#303030"))
	s.PaneFocus = lipgloss.NewStyle().Foreground(lipgloss.Color("#000000")).Background(colAccent).Bold(true)

	s.State = map[string]lipgloss.Style{
		"running":       lipgloss.NewStyle().Foreground(colGreen),
		"ready":         lipgloss.NewStyle().Foreground(colCyan),
		"installed":     lipgloss.NewStyle().Foreground(colBlue),
		"configured":    lipgloss.NewStyle().Foreground(colGrey),
		"incomplete":    lipgloss.NewStyle().Foreground(colYellow),
		"shutting_down": lipgloss.NewStyle().Foreground(colOrange),
		"down":          lipgloss.NewStyle().Foreground(colRed).Bold(true),
	}
	s.StateDefault = lipgloss.NewStyle().Foreground(colText)

	s.Empty = lipgloss.NewStyle().Foreground(colText)
	s.EmptyCode = lipgloss.NewStyle().Foreground(colAccent)

	s.StatusInfo = lipgloss.NewStyle().Foreground(colText)
	s.StatusError = lipgloss.NewStyle().Foreground(colRed)
	s.Prompt = lipgloss.NewStyle().Foreground(colAccent).Bold(true)
	s.TooSmall = lipgloss.NewStyle().Foreground(colOrange).Bold(true)

	s.Help = help.DefaultDarkStyles()
	return s
}

// StateStyle is the style of a zone state name.
func (s *Styles) StateStyle(state string) lipgloss.Style {
	if st, ok := s.State[state]; ok {
		return st
	}
	return s.StateDefault
}
