package cpanelimport

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"syscall"
	"time"
)

// The reasons a file of a source is not read.
var (
	// ErrSymlink: the path is (or passes through) a symbolic link; links
	// are never followed, so nothing outside a tree is read through one.
	ErrSymlink = errors.New("is a symbolic link, which the importer does not follow")
	// ErrNotRegular: the path is a device, a pipe, a hard link entry of
	// an archive or another kind of file that is not a plain file.
	ErrNotRegular = errors.New("is not a regular file")
	// ErrTooLarge: the file is larger than Limits.MaxFileSize.
	ErrTooLarge = errors.New("is larger than the importer reads")
)

// Limits bound what the importer reads from one source into memory.
type Limits struct {
	// MaxEntries is the most entries an archive may have (all of them,
	// those the importer skips included).
	MaxEntries int
	// MaxFileSize is the largest file the importer reads.
	MaxFileSize int64
	// MaxTotal is the most bytes the importer keeps from one archive.
	MaxTotal int64
}

// DefaultLimits are generous for real accounts (whose files the importer
// reads are small: the mailbox database of an account with 10,000
// mailboxes is about 1 MB) and keep a hostile archive from exhausting
// memory.
var DefaultLimits = Limits{MaxEntries: 5_000_000, MaxFileSize: 16 << 20, MaxTotal: 256 << 20}

// ---- a directory ----

// dirFS is a read-only view of a directory that never follows a symbolic
// link (the path's own components included) and reads at most max bytes
// per file. Through os.Root, no path leaves the directory in any case.
type dirFS struct {
	root *os.Root
	max  int64
}

func openDir(dir string, max int64) (*dirFS, error) {
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	return &dirFS{root: r, max: max}, nil
}

func (d *dirFS) Close() error { return d.root.Close() }

// check refuses a name that is not a valid fs path or that passes through
// a symbolic link, and returns the Lstat of the name.
func (d *dirFS) check(op, name string) (fs.FileInfo, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	fi, err := d.root.Lstat(".")
	if name != "." {
		p := "."
		for _, part := range strings.Split(name, "/") {
			if err != nil {
				break
			}
			p = path.Join(p, part)
			if fi, err = d.root.Lstat(p); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
				return nil, &fs.PathError{Op: op, Path: name, Err: ErrSymlink}
			}
		}
	}
	if err != nil {
		return nil, &fs.PathError{Op: op, Path: name, Err: unwrapPath(err)}
	}
	return fi, nil
}

// unwrapPath returns the cause of a *fs.PathError (so that the path is
// reported once, relative to the source).
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Open implements fs.FS.
func (d *dirFS) Open(name string) (fs.File, error) {
	fi, err := d.check("open", name)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() && !fi.Mode().IsRegular() {
		return nil, &fs.PathError{Op: "open", Path: name, Err: ErrNotRegular}
	}
	f, err := d.root.OpenFile(name, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: unwrapPath(err)}
	}
	return f, nil
}

// ReadFile implements fs.ReadFileFS: a regular file of at most max bytes.
func (d *dirFS) ReadFile(name string) ([]byte, error) {
	fi, err := d.check("read", name)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, &fs.PathError{Op: "read", Path: name, Err: ErrNotRegular}
	}
	if fi.Size() > d.max {
		return nil, &fs.PathError{Op: "read", Path: name, Err: ErrTooLarge}
	}
	f, err := d.root.OpenFile(name, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: name, Err: unwrapPath(err)}
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, d.max+1))
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: name, Err: unwrapPath(err)}
	}
	if int64(len(b)) > d.max {
		return nil, &fs.PathError{Op: "read", Path: name, Err: ErrTooLarge}
	}
	return b, nil
}

// ReadDir implements fs.ReadDirFS, sorted by name.
func (d *dirFS) ReadDir(name string) ([]fs.DirEntry, error) {
	fi, err := d.check("readdir", name)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: syscall.ENOTDIR}
	}
	f, err := d.root.OpenFile(name, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: unwrapPath(err)}
	}
	defer f.Close()
	es, err := f.ReadDir(-1)
	if err != nil {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: unwrapPath(err)}
	}
	slices.SortFunc(es, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return es, nil
}

// ---- an archive in memory ----

// memFS is the files kept from an archive: regular files only, by clean
// relative path; directories are implied by the files' paths.
type memFS struct {
	files map[string][]byte
}

func (m *memFS) isDir(name string) bool {
	if name == "." {
		return true
	}
	prefix := name + "/"
	for p := range m.files {
		if strings.HasPrefix(p, prefix) {
			return true
		}
	}
	return false
}

// Open implements fs.FS.
func (m *memFS) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	if b, ok := m.files[name]; ok {
		return &memFile{info: memInfo{name: path.Base(name), size: int64(len(b))}, r: bytes.NewReader(b)}, nil
	}
	if !m.isDir(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	es, _ := m.ReadDir(name)
	return &memDir{info: memInfo{name: path.Base(name), dir: true}, entries: es}, nil
}

// ReadFile implements fs.ReadFileFS.
func (m *memFS) ReadFile(name string) ([]byte, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "read", Path: name, Err: fs.ErrInvalid}
	}
	b, ok := m.files[name]
	if !ok {
		if m.isDir(name) {
			return nil, &fs.PathError{Op: "read", Path: name, Err: ErrNotRegular}
		}
		return nil, &fs.PathError{Op: "read", Path: name, Err: fs.ErrNotExist}
	}
	return slices.Clone(b), nil
}

// ReadDir implements fs.ReadDirFS, sorted by name.
func (m *memFS) ReadDir(name string) ([]fs.DirEntry, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrInvalid}
	}
	if _, ok := m.files[name]; ok {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: syscall.ENOTDIR}
	}
	prefix := name + "/"
	if name == "." {
		prefix = ""
	}
	seen := map[string]fs.DirEntry{}
	for p, b := range m.files {
		rest, ok := strings.CutPrefix(p, prefix)
		if !ok {
			continue
		}
		if child, _, deeper := strings.Cut(rest, "/"); deeper {
			seen[child] = fs.FileInfoToDirEntry(memInfo{name: child, dir: true})
		} else {
			seen[rest] = fs.FileInfoToDirEntry(memInfo{name: rest, size: int64(len(b))})
		}
	}
	if len(seen) == 0 && name != "." {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrNotExist}
	}
	out := make([]fs.DirEntry, 0, len(seen))
	for _, e := range seen {
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return out, nil
}

type memInfo struct {
	name string
	size int64
	dir  bool
}

func (i memInfo) Name() string { return i.name }
func (i memInfo) Size() int64  { return i.size }
func (i memInfo) Mode() fs.FileMode {
	if i.dir {
		return fs.ModeDir | 0o555
	}
	return 0o444
}
func (i memInfo) ModTime() time.Time { return time.Time{} }
func (i memInfo) IsDir() bool        { return i.dir }
func (i memInfo) Sys() any           { return nil }

type memFile struct {
	info memInfo
	r    *bytes.Reader
}

func (f *memFile) Stat() (fs.FileInfo, error) { return f.info, nil }
func (f *memFile) Read(p []byte) (int, error) { return f.r.Read(p) }
func (f *memFile) Close() error               { return nil }

type memDir struct {
	info    memInfo
	entries []fs.DirEntry
	off     int
}

func (d *memDir) Stat() (fs.FileInfo, error) { return d.info, nil }
func (d *memDir) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.info.name, Err: syscall.EISDIR}
}
func (d *memDir) Close() error { return nil }

// ReadDir implements fs.ReadDirFile.
func (d *memDir) ReadDir(n int) ([]fs.DirEntry, error) {
	rest := d.entries[d.off:]
	if n <= 0 {
		d.off = len(d.entries)
		return rest, nil
	}
	if len(rest) == 0 {
		return nil, io.EOF
	}
	n = min(n, len(rest))
	d.off += n
	return rest[:n], nil
}
