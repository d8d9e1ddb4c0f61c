package zones

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
	"zonetop/api"
	"zonetop/internal/pathrs"
)

// ErrNoZone is returned (wrapped) when a zone is not configured.
var ErrNoZone = api.Kind(api.ErrNotFound, "no such zone configured")

// ErrBroken is returned (wrapped, as a *BrokenError) when a zone's file
// holds a configuration that does not verify: edited by hand, or written
// by an older zonetop with fewer rules. Nothing acts on such a zone; only
// zonecfg opens it (LoadUnverified), to repair it or delete it.
var ErrBroken = api.Kind(api.ErrConflict, "configuration does not verify")

// BrokenError names the zone file and every rule of verify it breaks.
type BrokenError struct {
	Zone, File string
	Problems   []error
}

func (e *BrokenError) Error() string {
	msgs := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		msgs[i] = p.Error()
	}
	return fmt.Sprintf("zone %s: %s: %v, so nothing is done with it (repair it with zonecfg -z %s, or delete it): %s",
		e.Zone, e.File, ErrBroken, e.Zone, strings.Join(msgs, "; "))
}

func (e *BrokenError) Unwrap() error { return ErrBroken }

// ErrConflict is returned (wrapped) when a commit would overwrite a change
// another session made since this one loaded the zone.
var ErrConflict = api.Kind(api.ErrConflict, "changed by another session")

// Store is the configuration store under ROOT/etc/zonetop/zones: one XML
// file per zone and an index holding every zone's state. The index is the
// source of truth for which zones exist; a file without an index line is
// debris from an interrupted commit or delete and is ignored.
type Store struct {
	Root string
	dir  string

	// The parsed index is cached by file identity: every write replaces the
	// file by rename, so a new inode (or size or mtime) means new content.
	// Loading 1,000 zones then parses the index once, not 1,000 times.
	mu       sync.Mutex
	cacheKey indexKey
	cache    []IndexEntry
	// Parsed zone files, cached the same way: a console lists every
	// zone every second, and parsing 1,000 XML files each time was most
	// of an idle console's CPU. Callers get clones.
	zcache map[string]cachedZone

	// live tells the state of a zone whose platform is up. The index
	// holds only the states that outlive a host restart (configured,
	// incomplete, installed), as illumos' index does; ready, running,
	// shutting down and down belong to the zone's supervisor and end with
	// its platform. nil: no zone is ever up (a store without a runtime).
	live func(name string) (State, bool)
}

// SetLive gives the store the runtime's view of a zone's state, for the
// checks that depend on whether it is up (renaming it).
func (s *Store) SetLive(f func(name string) (State, bool)) { s.live = f }

type indexKey struct {
	ino, size int64
	mtime     int64
	ok        bool
}

// racyWindow is how old a file's modification time must be before its
// parsed form is cached (see loadFile).
const racyWindow = 2 * time.Second

type cachedZone struct {
	key indexKey
	cfg *Config
	sum [sha256.Size]byte
}

// fileKey is f's identity for the caches: rename gives a new inode, and
// an edit in place changes the size or the modification time.
func fileKey(f *os.File) indexKey {
	fi, err := f.Stat()
	if err != nil {
		return indexKey{}
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return indexKey{}
	}
	return indexKey{ino: int64(st.Ino), size: fi.Size(), mtime: fi.ModTime().UnixNano(), ok: true}
}

// NewStore returns the store under root ("/" for the host's own).
func NewStore(root string) *Store {
	return &Store{Root: root, dir: filepath.Join(root, "etc", "zonetop", "zones")}
}

// Dir is the directory holding the index and the zone files.
func (s *Store) Dir() string { return s.dir }

// IndexEntry is one line of the index.
type IndexEntry struct {
	Name     string
	State    State
	Zonepath string
	UUID     string
	Reason   string // why a zone is down or incomplete, for the operator
}

// Revision identifies the stored version of a zone's configuration that a
// session started from. The zero Revision means "the zone did not exist".
type Revision struct {
	name string
	sum  [sha256.Size]byte
	ok   bool
}

// Exists reports whether the revision is of a stored zone.
func (r Revision) Exists() bool { return r.ok }

func (r Revision) String() string {
	if !r.ok {
		return "none"
	}
	return fmt.Sprintf("%s@%x", r.name, r.sum[:6])
}

// commitHook, when set (by tests only), runs at named points of a write so
// a test can kill the process mid-commit.
var commitHook func(stage string)

func hook(stage string) {
	if commitHook != nil {
		commitHook(stage)
	}
}

func (s *Store) indexPath() string           { return filepath.Join(s.dir, "index") }
func (s *Store) zonePath(name string) string { return filepath.Join(s.dir, name+".xml") }

// lock takes the store's flock: exclusive for read-modify-write, shared
// for reads that must see the index and a zone file from the same moment.
func (s *Store) lock(exclusive bool) (func(), error) {
	how := syscall.LOCK_SH
	flag := os.O_RDONLY
	if exclusive {
		how = syscall.LOCK_EX
		flag = os.O_RDWR | os.O_CREATE
		if err := os.MkdirAll(s.dir, 0o755); err != nil {
			return nil, fmt.Errorf("create %s: %w", s.dir, err)
		}
	}
	f, err := os.OpenFile(filepath.Join(s.dir, ".lock"), flag|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		if !exclusive && errors.Is(err, fs.ErrNotExist) {
			return func() {}, nil // no store yet: nothing to be consistent with
		}
		return nil, fmt.Errorf("open store lock: %w", err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), how)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", f.Name(), err)
	}
	return func() { f.Close() }, nil
}

const indexHeader = `# zonetop zone index: name:state:zonepath:uuid[:reason]
# Written by zonecfg and zoneadm under etc/zonetop/zones/.lock; do not edit.
`

// readIndex returns a fresh copy of the index entries, for callers that
// modify them.
func (s *Store) readIndex() ([]IndexEntry, error) {
	ents, err := s.indexShared()
	return slices.Clone(ents), err
}

// indexShared returns the cached entries; callers must not modify them.
func (s *Store) indexShared() ([]IndexEntry, error) {
	f, err := os.Open(s.indexPath())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read zone index: %w", err)
	}
	defer f.Close()
	key := fileKey(f)
	s.mu.Lock()
	if key.ok && key == s.cacheKey {
		out := s.cache
		s.mu.Unlock()
		return out, nil
	}
	s.mu.Unlock()
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("read zone index: %w", err)
	}
	ents, err := parseIndex(s.indexPath(), data)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.cacheKey, s.cache = key, ents
	s.mu.Unlock()
	return ents, nil
}

func parseIndex(file string, data []byte) ([]IndexEntry, error) {
	var out []IndexEntry
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		t := sc.Text()
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		f := strings.SplitN(t, ":", 5)
		if len(f) < 4 {
			return nil, fmt.Errorf("%s:%d: expected name:state:zonepath:uuid[:reason]", file, line)
		}
		st, err := ParseState(f[1])
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", file, line, err)
		}
		if err := ValidateName(f[0]); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", file, line, err)
		}
		e := IndexEntry{Name: f[0], State: st, Zonepath: f[2], UUID: f[3]}
		if len(f) == 5 {
			e.Reason = f[4]
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	return out, nil
}

func (s *Store) writeIndex(ents []IndexEntry) error {
	slices.SortFunc(ents, func(a, b IndexEntry) int { return strings.Compare(a.Name, b.Name) })
	var b bytes.Buffer
	b.WriteString(indexHeader)
	for _, e := range ents {
		fmt.Fprintf(&b, "%s:%s:%s:%s", e.Name, e.State, e.Zonepath, e.UUID)
		if e.Reason != "" {
			b.WriteString(":" + strings.NewReplacer("\n", " ", "\r", " ").Replace(e.Reason))
		}
		b.WriteByte('\n')
	}
	return writeFileAtomic(s.dir, "index", b.Bytes(), "index")
}

// writeFileAtomic replaces dir/name so that a crash at any point leaves the
// old or the new content; the crash tests stop it at STAGE-before-rename.
func writeFileAtomic(dir, name string, data []byte, stage string) error {
	return pathrs.WriteFileAtomicHook(filepath.Join(dir, name), data, 0o644, func() { hook(stage + "-before-rename") })
}

func syncDir(dir string) error { return pathrs.SyncDir(dir) }

// List returns every zone in the index. It reads only the index, so a
// damaged zone file does not hide the other zones.
func (s *Store) List() ([]IndexEntry, error) {
	unlock, err := s.lockRead()
	if err != nil {
		return nil, err
	}
	defer unlock()
	return s.readIndex()
}

// State returns one zone's index entry.
func (s *Store) State(name string) (IndexEntry, error) {
	ents, err := s.List()
	if err != nil {
		return IndexEntry{}, err
	}
	for _, e := range ents {
		if e.Name == name {
			return e, nil
		}
	}
	return IndexEntry{}, fmt.Errorf("zone %s: %w", name, ErrNoZone)
}

// Load reads a zone's configuration and the revision it came from. "global"
// gives the global zone's resource settings (empty when never set). A file
// that breaks any rule of verify is refused with a *BrokenError: the
// store hands out only configurations verify accepts, whoever wrote the
// file, so no operation acts on one it would not have let zonecfg commit.
func (s *Store) Load(name string) (*Config, Revision, error) {
	c, rev, problems, err := s.LoadUnverified(name)
	if err != nil {
		return nil, Revision{}, err
	}
	if len(problems) > 0 {
		return nil, Revision{}, &BrokenError{Zone: name, File: s.zonePath(name), Problems: problems}
	}
	return c, rev, nil
}

// LoadUnverified is Load for zonecfg, which must open a broken zone to
// repair it: the configuration comes back with the rules of verify it
// breaks (none for a sound one). A file that cannot be read or parsed is
// still an error.
func (s *Store) LoadUnverified(name string) (*Config, Revision, []error, error) {
	unlock, err := s.lockRead()
	if err != nil {
		return nil, Revision{}, nil, err
	}
	defer unlock()
	if name == "global" {
		c, rev, err := s.loadFile("global", true)
		if err != nil {
			return nil, Revision{}, nil, err
		}
		return c, rev, Verify(c, nil), nil
	}
	ents, err := s.indexShared()
	if err != nil {
		return nil, Revision{}, nil, err
	}
	c, rev, err := s.loadIndexed(name, ents)
	if err != nil {
		return nil, Revision{}, nil, err
	}
	return c, rev, verifyStored(c, ents), nil
}

// Loaded is one zone's configuration as LoadMany found it: Err is what
// Load would have returned.
type Loaded struct {
	Config *Config
	Err    error
}

// LoadMany is Load for each named zone, under one lock and one reading
// of the index: a console lists every zone every second, and a lock,
// an index read and a pass over every other zone's zonepath per zone
// made that quadratic in the number of zones.
func (s *Store) LoadMany(names []string) (map[string]Loaded, error) {
	unlock, err := s.lockRead()
	if err != nil {
		return nil, err
	}
	defer unlock()
	ents, err := s.indexShared()
	if err != nil {
		return nil, err
	}
	byPath := make(map[string][]string, len(ents))
	byName := make(map[string]IndexEntry, len(ents))
	for _, e := range ents {
		byName[e.Name] = e
		if e.Zonepath != "" {
			zp := path.Clean(e.Zonepath)
			byPath[zp] = append(byPath[zp], e.Name)
		}
	}
	out := make(map[string]Loaded, len(names))
	for _, name := range names {
		if name == "global" {
			continue
		}
		ent, ok := byName[name]
		c, _, err := s.loadEntry(name, &ent, ok)
		if err == nil {
			if problems := verifyStoredIn(c, &ent, byPath); len(problems) > 0 {
				c, err = nil, &BrokenError{Zone: name, File: s.zonePath(name), Problems: problems}
			}
		}
		out[name] = Loaded{Config: c, Err: err}
	}
	return out, nil
}

// verifyStored is Verify for a stored zone; the other zones' zonepaths
// come from the index, so the cross-zone rules cost no file reads. It
// adds one rule of the store's own: the zonepath must be the one the
// index recorded. Every commit writes both, and a pending commit is
// rolled forward before any read, so a difference is a hand edit of the
// file, and it would make uninstall remove a directory install never
// made (zonecfg refuses to move an installed zone for that reason).
func verifyStored(c *Config, ents []IndexEntry) []error {
	byPath := map[string][]string{}
	var own *IndexEntry
	for i, e := range ents {
		if e.Name == c.Name {
			own = &ents[i]
		}
		if e.Zonepath != "" {
			zp := path.Clean(e.Zonepath)
			byPath[zp] = append(byPath[zp], e.Name)
		}
	}
	return verifyStoredIn(c, own, byPath)
}

// verifyStoredIn is verifyStored given the zone's own index entry (nil:
// none) and the index's zones by cleaned zonepath, which a caller that
// verifies many builds once.
func verifyStoredIn(c *Config, own *IndexEntry, byPath map[string][]string) []error {
	errs := Verify(c, nil)
	if c.Zonepath == "" {
		return errs
	}
	zp := path.Clean(c.Zonepath)
	if own != nil && own.Zonepath != "" && path.Clean(own.Zonepath) != zp {
		errs = append(errs, &VerifyError{Zone: c.Name, Property: "zonepath",
			Problem: fmt.Sprintf("%s is not %s, the zonepath the index recorded at the last commit: the file was changed by hand", c.Zonepath, own.Zonepath)})
	}
	for _, other := range byPath[zp] {
		if other != c.Name {
			errs = append(errs, &VerifyError{Zone: c.Name, Property: "zonepath",
				Problem: fmt.Sprintf("%s is already the zonepath of zone %s", c.Zonepath, other)})
		}
	}
	return errs
}

func (s *Store) loadIndexed(name string, ents []IndexEntry) (*Config, Revision, error) {
	for i := range ents {
		if ents[i].Name == name {
			return s.loadEntry(name, &ents[i], true)
		}
	}
	return s.loadEntry(name, nil, false)
}

// loadEntry reads the file of the zone whose index entry is ent (ok
// false: the index has none, so the zone does not exist).
func (s *Store) loadEntry(name string, ent *IndexEntry, ok bool) (*Config, Revision, error) {
	if !ok {
		return nil, Revision{}, fmt.Errorf("zone %s: %w", name, ErrNoZone)
	}
	c, rev, err := s.loadFile(name, false)
	if err != nil {
		return nil, Revision{}, err
	}
	if c.UUID == "" {
		c.UUID = ent.UUID
	}
	return c, rev, nil
}

func (s *Store) loadFile(name string, missingOK bool) (*Config, Revision, error) {
	file := s.zonePath(name)
	f, err := os.Open(file)
	if errors.Is(err, fs.ErrNotExist) && missingOK {
		return &Config{Name: name}, Revision{}, nil
	}
	if err != nil {
		return nil, Revision{}, fmt.Errorf("zone %s: read %s: %w", name, file, err)
	}
	defer f.Close()
	key := fileKey(f)
	s.mu.Lock()
	if z, ok := s.zcache[name]; ok && key.ok && z.key == key {
		s.mu.Unlock()
		return z.cfg.Clone(), Revision{name: name, sum: z.sum, ok: true}, nil
	}
	s.mu.Unlock()
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, Revision{}, fmt.Errorf("zone %s: read %s: %w", name, file, err)
	}
	c, err := UnmarshalConfig(data)
	if err != nil {
		return nil, Revision{}, fmt.Errorf("zone %s: %s: %w", name, file, err)
	}
	if c.Name != name {
		return nil, Revision{}, fmt.Errorf("zone %s: %s: names zone %q", name, file, c.Name)
	}
	sum := sha256.Sum256(data)
	// A file written within the last two seconds is not cached: the
	// kernel's timestamps move in clock ticks, so an edit in place that
	// kept the size in the same tick would look unchanged.
	if key.ok && time.Since(time.Unix(0, key.mtime)) > racyWindow {
		s.mu.Lock()
		if s.zcache == nil {
			s.zcache = map[string]cachedZone{}
		}
		s.zcache[name] = cachedZone{key: key, cfg: c.Clone(), sum: sum}
		s.mu.Unlock()
	}
	return c, Revision{name: name, sum: sum, ok: true}, nil
}

func (s *Store) currentSum(name string) ([sha256.Size]byte, bool, error) {
	data, err := os.ReadFile(s.zonePath(name))
	if errors.Is(err, fs.ErrNotExist) {
		return [sha256.Size]byte{}, false, nil
	}
	if err != nil {
		return [sha256.Size]byte{}, false, fmt.Errorf("read %s: %w", s.zonePath(name), err)
	}
	return sha256.Sum256(data), true, nil
}

// Commit writes c if the stored zone is still at base (the zero Revision
// for a new zone). If another session committed or deleted the zone in
// between, nothing is written and the error wraps ErrConflict. A changed
// name renames the zone (configured or installed zones only); zonepath and
// brand may change only while the zone is merely configured. c.UUID is
// filled in for a new zone.
func (s *Store) Commit(c *Config, base Revision) (Revision, error) {
	if c == nil {
		return Revision{}, errors.New("commit: no configuration")
	}
	if c.Name != "global" {
		if err := ValidateName(c.Name); err != nil {
			return Revision{}, fmt.Errorf("commit: %w", err)
		}
		if err := checkZonepathField(c.Zonepath); err != nil {
			return Revision{}, fmt.Errorf("commit zone %s: zonepath: %w", c.Name, err)
		}
	}
	normalizeConfig(c)
	unlock, err := s.lockWrite()
	if err != nil {
		return Revision{}, fmt.Errorf("commit zone %s: %w", c.Name, err)
	}
	defer unlock()

	oldName := c.Name
	if base.ok {
		oldName = base.name
	}
	sum, exists, err := s.currentSum(oldName)
	if err != nil {
		return Revision{}, fmt.Errorf("commit zone %s: %w", c.Name, err)
	}
	if c.Name == "global" {
		if exists != base.ok || (exists && sum != base.sum) {
			return Revision{}, fmt.Errorf("commit global zone: settings %w since this session read them; revert and apply your changes again", ErrConflict)
		}
		return s.writeZone(c)
	}

	ents, err := s.readIndex()
	if err != nil {
		return Revision{}, fmt.Errorf("commit zone %s: %w", c.Name, err)
	}
	find := func(n string) int {
		return slices.IndexFunc(ents, func(e IndexEntry) bool { return e.Name == n })
	}
	i := find(oldName)
	if base.ok {
		if i < 0 {
			return Revision{}, fmt.Errorf("commit zone %s: zone was deleted by another session (%w); nothing written", oldName, ErrConflict)
		}
		if !exists || sum != base.sum {
			return Revision{}, fmt.Errorf("commit zone %s: configuration %w since this session loaded it; nothing written (revert, then apply your changes again)", oldName, ErrConflict)
		}
		old, _, err := s.loadFile(oldName, false)
		if err != nil {
			return Revision{}, fmt.Errorf("commit zone %s: %w", c.Name, err)
		}
		st := ents[i].State
		if st == StateInstalled && s.live != nil {
			if ls, up := s.live(oldName); up {
				st = ls
			}
		}
		if c.Name != oldName {
			if err := CheckOp(oldName, st, "rename"); err != nil {
				return Revision{}, fmt.Errorf("commit: cannot rename to %s: %w", c.Name, err)
			}
			if find(c.Name) >= 0 {
				return Revision{}, fmt.Errorf("commit: cannot rename zone %s to %s: a zone of that name exists", oldName, c.Name)
			}
		}
		// Setting the zonepath back to the one the index recorded is
		// the repair of a hand-edited file, allowed in any state.
		if old.Zonepath != c.Zonepath && (ents[i].Zonepath == "" || filepath.Clean(c.Zonepath) != filepath.Clean(ents[i].Zonepath)) {
			if err := CheckOp(oldName, st, "move"); err != nil {
				return Revision{}, fmt.Errorf("commit: cannot change the zonepath: %w", err)
			}
		}
		if old.EffectiveBrand() != c.EffectiveBrand() {
			if err := CheckOp(oldName, st, "move"); err != nil {
				return Revision{}, fmt.Errorf("commit: cannot change the brand: %w", err)
			}
		}
		if c.UUID == "" {
			c.UUID = ents[i].UUID
		}
	} else {
		if i >= 0 {
			return Revision{}, fmt.Errorf("commit zone %s: a zone of that name was created by another session (%w); nothing written", c.Name, ErrConflict)
		}
		if c.UUID == "" {
			c.UUID = newUUID()
		}
	}
	for _, e := range ents {
		if e.Name != oldName && e.Zonepath != "" && filepath.Clean(e.Zonepath) == filepath.Clean(c.Zonepath) {
			return Revision{}, fmt.Errorf("commit zone %s: zonepath %s is already used by zone %s", c.Name, c.Zonepath, e.Name)
		}
	}
	if c.Name != oldName {
		// A file under the new name that the index does not list is debris
		// of an earlier interrupted commit; clear it so recovery cannot
		// mistake it for this commit's result.
		if err := os.Remove(s.zonePath(c.Name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return Revision{}, fmt.Errorf("commit zone %s: %w", c.Name, err)
		}
	}
	if err := writeFileAtomic(s.dir, pendingFile, []byte(oldName+" "+c.Name+"\n"), "pending"); err != nil {
		return Revision{}, fmt.Errorf("commit zone %s: %w", c.Name, err)
	}
	rev, err := s.writeZone(c)
	if err != nil {
		os.Remove(filepath.Join(s.dir, pendingFile))
		return Revision{}, err
	}
	if i >= 0 {
		ents[i].Name, ents[i].Zonepath, ents[i].UUID = c.Name, c.Zonepath, c.UUID
	} else {
		ents = append(ents, IndexEntry{Name: c.Name, State: StateConfigured, Zonepath: c.Zonepath, UUID: c.UUID})
	}
	if err := s.writeIndex(ents); err != nil {
		return Revision{}, fmt.Errorf("commit zone %s: %w", c.Name, err)
	}
	if oldName != c.Name {
		// The index no longer names the old file; a crash before this
		// removal leaves debris that Load and Commit ignore.
		if err := os.Remove(s.zonePath(oldName)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return rev, fmt.Errorf("commit zone %s: remove old file: %w", c.Name, err)
		}
	}
	if err := os.Remove(filepath.Join(s.dir, pendingFile)); err != nil {
		return rev, fmt.Errorf("commit zone %s: %w", c.Name, err)
	}
	return rev, syncDir(s.dir)
}

// The pending file marks a commit under way: "OLDNAME NEWNAME". A commit
// changes two files (the zone's XML and the index); each write is atomic,
// but a crash between them would leave the index naming an old zonepath or
// name. Whoever next finds the marker rolls the index forward from the
// XML file, which is the commit point.
const pendingFile = ".pending"

func (s *Store) hasPending() bool {
	_, err := os.Stat(filepath.Join(s.dir, pendingFile))
	return err == nil
}

// recoverPending repairs the index after an interrupted commit. It runs
// under the exclusive lock.
func (s *Store) recoverPending() error {
	data, err := os.ReadFile(filepath.Join(s.dir, pendingFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", pendingFile, err)
	}
	oldName, newName, ok := strings.Cut(strings.TrimSpace(string(data)), " ")
	if ok && ValidateName(oldName) == nil && ValidateName(newName) == nil {
		ents, err := s.readIndex()
		if err != nil {
			return err
		}
		if c, _, err := s.loadFile(newName, false); err == nil {
			i := slices.IndexFunc(ents, func(e IndexEntry) bool { return e.Name == oldName })
			if i >= 0 {
				ents[i].Name, ents[i].Zonepath = newName, c.Zonepath
				if c.UUID != "" {
					ents[i].UUID = c.UUID
				}
			} else if slices.IndexFunc(ents, func(e IndexEntry) bool { return e.Name == newName }) < 0 {
				ents = append(ents, IndexEntry{Name: newName, State: StateConfigured, Zonepath: c.Zonepath, UUID: c.UUID})
			}
			if err := s.writeIndex(ents); err != nil {
				return err
			}
			if oldName != newName {
				if err := os.Remove(s.zonePath(oldName)); err != nil && !errors.Is(err, fs.ErrNotExist) {
					return fmt.Errorf("remove %s: %w", s.zonePath(oldName), err)
				}
			}
		}
	}
	if err := os.Remove(filepath.Join(s.dir, pendingFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", pendingFile, err)
	}
	return syncDir(s.dir)
}

// lockWrite takes the exclusive lock and finishes any interrupted commit.
func (s *Store) lockWrite() (func(), error) {
	unlock, err := s.lock(true)
	if err != nil {
		return nil, err
	}
	if err := s.recoverPending(); err != nil {
		unlock()
		return nil, fmt.Errorf("recover interrupted commit: %w", err)
	}
	return unlock, nil
}

// lockRead takes the shared lock, first repairing an interrupted commit
// if one is marked, so readers never see a stale index.
func (s *Store) lockRead() (func(), error) {
	if s.hasPending() {
		unlock, err := s.lockWrite()
		if err != nil {
			return nil, err
		}
		unlock()
	}
	return s.lock(false)
}

func checkZonepathField(p string) error {
	if p == "" {
		return nil
	}
	return checkZonepath(p)
}

func (s *Store) writeZone(c *Config) (Revision, error) {
	data, err := MarshalConfig(c)
	if err != nil {
		return Revision{}, err
	}
	if err := writeFileAtomic(s.dir, c.Name+".xml", data, "xml"); err != nil {
		return Revision{}, fmt.Errorf("commit zone %s: %w", c.Name, err)
	}
	return Revision{name: c.Name, sum: sha256.Sum256(data), ok: true}, nil
}

// Delete removes a configured zone. The index line goes first, so a crash
// leaves at worst an unreferenced file.
func (s *Store) Delete(name string) error {
	unlock, err := s.lockWrite()
	if err != nil {
		return fmt.Errorf("delete zone %s: %w", name, err)
	}
	defer unlock()
	ents, err := s.readIndex()
	if err != nil {
		return fmt.Errorf("delete zone %s: %w", name, err)
	}
	i := slices.IndexFunc(ents, func(e IndexEntry) bool { return e.Name == name })
	if i < 0 {
		return fmt.Errorf("delete zone %s: %w", name, ErrNoZone)
	}
	if err := CheckOp(name, ents[i].State, "delete"); err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	ents = slices.Delete(ents, i, i+1)
	if err := s.writeIndex(ents); err != nil {
		return fmt.Errorf("delete zone %s: %w", name, err)
	}
	if err := os.Remove(s.zonePath(name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete zone %s: %w", name, err)
	}
	return syncDir(s.dir)
}

// SetState moves a zone to state to, under the lock, if its current state
// is one of from (nil: any). reason is kept with the state for the
// operator ("" clears it).
func (s *Store) SetState(name string, from []State, to State, reason string) error {
	if !to.Valid() {
		return fmt.Errorf("set state of zone %s: unknown state %q", name, string(to))
	}
	unlock, err := s.lockWrite()
	if err != nil {
		return fmt.Errorf("set state of zone %s: %w", name, err)
	}
	defer unlock()
	ents, err := s.readIndex()
	if err != nil {
		return fmt.Errorf("set state of zone %s: %w", name, err)
	}
	i := slices.IndexFunc(ents, func(e IndexEntry) bool { return e.Name == name })
	if i < 0 {
		return fmt.Errorf("set state of zone %s: %w", name, ErrNoZone)
	}
	if from != nil && !slices.Contains(from, ents[i].State) {
		want := make([]string, len(from))
		for k, f := range from {
			want[k] = string(f)
		}
		return fmt.Errorf("zone %s is %s, not %s; another operation changed it", name, ents[i].State, strings.Join(want, " or "))
	}
	if ents[i].State == to && ents[i].Reason == reason {
		// Nothing to record (a halt of a zone the index already holds
		// as installed): no rewrite, and no two fsyncs on the way.
		return nil
	}
	ents[i].State, ents[i].Reason = to, reason
	return s.writeIndex(ents)
}

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		// crypto/rand does not fail on Linux; a zero UUID is still unique
		// enough for the index and better than refusing the commit.
		return "00000000-0000-4000-8000-000000000000"
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
