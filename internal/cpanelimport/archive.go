package cpanelimport

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"
)

// maxPathProblems is how many unsafe entry names of one archive are
// reported one by one; the rest are counted.
const maxPathProblems = 20

// archiveProblem is an entry of an archive the importer refused: its
// name (as the archive has it) and why.
type archiveProblem struct {
	name   string
	reason string
}

// archive is what readArchive kept of a pkgacct archive.
type archive struct {
	// fs holds the files the importer reads, relative to the archive's
	// top directory.
	fs *memFS
	// top is that directory ("cpmove-alice"; "" when the files are at the
	// archive's root).
	top      string
	problems []archiveProblem
}

// readArchive reads a tar stream (gzip-compressed or not) without
// writing anything to disk: it keeps in memory only the files of a
// pkgacct archive that the importer reads (wanted), within lim, and skips
// the rest (home directory contents, mail, database dumps). Entries with
// an absolute name or a ".." component are refused and reported; so are
// symbolic links, hard links, devices and pipes where the importer would
// read a file. An archive that is damaged or truncated, or that exceeds
// the limits, is an error: nothing of it is used.
func readArchive(r io.Reader, lim Limits) (*archive, error) {
	br := bufio.NewReader(r)
	var src io.Reader = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("not a gzip-compressed archive: %v", err)
		}
		defer zr.Close()
		src = zr
	}
	tail := &tailReader{r: src}
	tr := tar.NewReader(tail)
	kept := map[string][]byte{}
	var total int64
	var problems []archiveProblem
	unsafe := 0
	for n := 0; ; n++ {
		h, err := tr.Next()
		if err == io.EOF {
			if n == 0 {
				return nil, errors.New("the archive is empty")
			}
			// A tar stream ends with two zero blocks; without them it
			// was cut at an entry's boundary.
			if !tail.zeros() {
				return nil, damaged(n, io.ErrUnexpectedEOF)
			}
			// The rest (padding) lets gzip check its checksum.
			if _, err := io.Copy(io.Discard, io.LimitReader(src, maxPadding)); err != nil {
				return nil, damaged(n, err)
			}
			break
		}
		if err != nil {
			return nil, damaged(n, err)
		}
		if n >= lim.MaxEntries {
			return nil, fmt.Errorf("the archive has more than %d entries; nothing of it was imported", lim.MaxEntries)
		}
		name, ok := entryName(h.Name)
		if !ok {
			unsafe++
			if unsafe <= maxPathProblems {
				problems = append(problems, archiveProblem{h.Name, "the entry's name is absolute or has a “..” component; it was ignored"})
			}
			continue
		}
		if name == "" {
			continue
		}
		want, namesOnly := wantedEntry(name)
		if !want {
			continue
		}
		switch h.Typeflag {
		case tar.TypeReg: // (the reader turns the old TypeRegA into TypeReg)
		case tar.TypeDir:
			continue
		case tar.TypeSymlink:
			problems = append(problems, archiveProblem{h.Name, "is a symbolic link, which the importer does not follow; it was ignored"})
			continue
		case tar.TypeLink:
			problems = append(problems, archiveProblem{h.Name, "is a hard link, which the importer does not follow; it was ignored"})
			continue
		default:
			problems = append(problems, archiveProblem{h.Name, "is not a regular file; it was ignored"})
			continue
		}
		if namesOnly {
			kept[name] = nil
			continue
		}
		if h.Size > lim.MaxFileSize {
			problems = append(problems, archiveProblem{h.Name, fmt.Sprintf("is larger than %d bytes; it was ignored", lim.MaxFileSize)})
			continue
		}
		if total+h.Size > lim.MaxTotal {
			return nil, fmt.Errorf("the account files of the archive exceed %d bytes; nothing of it was imported", lim.MaxTotal)
		}
		b, err := io.ReadAll(io.LimitReader(tr, h.Size))
		if err == nil && int64(len(b)) < h.Size {
			err = io.ErrUnexpectedEOF
		}
		if err != nil {
			return nil, damaged(n+1, err)
		}
		total += int64(len(b))
		kept[name] = b
	}
	if unsafe > maxPathProblems {
		problems = append(problems, archiveProblem{"", fmt.Sprintf("%d more entries with an absolute name or a “..” component were ignored", unsafe-maxPathProblems)})
	}
	top, err := topDir(kept)
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{}
	for p, b := range kept {
		if top == "" {
			files[p] = b
		} else if rel, ok := strings.CutPrefix(p, top+"/"); ok {
			files[rel] = b
		}
	}
	return &archive{fs: &memFS{files: files}, top: top, problems: problems}, nil
}

// maxPadding is how much of what follows a tar stream's end is read (tar
// pads archives to records of 10 KiB), for gzip's checksum.
const maxPadding = 1 << 20

// tailReader remembers the last two blocks (1 KiB) read through it.
type tailReader struct {
	r    io.Reader
	tail [1024]byte
	n    int64
}

func (t *tailReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	b := p[:n]
	if len(b) >= len(t.tail) {
		copy(t.tail[:], b[len(b)-len(t.tail):])
	} else {
		copy(t.tail[:], t.tail[len(b):])
		copy(t.tail[len(t.tail)-len(b):], b)
	}
	t.n += int64(n)
	return n, err
}

// zeros reports whether the last 1 KiB read were zero bytes.
func (t *tailReader) zeros() bool {
	if t.n < int64(len(t.tail)) {
		return false
	}
	for _, c := range t.tail {
		if c != 0 {
			return false
		}
	}
	return true
}

// damaged is the error of an archive that could not be read to its end.
func damaged(entries int, err error) error {
	why := err.Error()
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		why = "it ends too early (truncated)"
	case errors.Is(err, tar.ErrHeader):
		why = "it is not a tar archive there"
	case errors.Is(err, gzip.ErrChecksum), errors.Is(err, gzip.ErrHeader):
		why = "its compressed data is damaged"
	}
	return fmt.Errorf("the archive is damaged after %d entries: %s; nothing of it was imported", entries, why)
}

// entryName cleans an entry's name: without a leading "./" or trailing
// "/". ok is false for a name that is absolute, has a ".." component or is
// otherwise not a plain relative path; "" is the archive's root.
func entryName(name string) (string, bool) {
	if strings.HasPrefix(name, "/") || strings.Contains(name, "\\") {
		return "", false
	}
	for _, part := range strings.Split(name, "/") {
		if part == ".." {
			return "", false
		}
	}
	for strings.HasPrefix(name, "./") {
		name = name[2:]
	}
	name = strings.TrimSuffix(name, "/")
	if name == "" || name == "." {
		return "", true
	}
	if !fs.ValidPath(name) {
		return "", false
	}
	return name, true
}

// wantedEntry reports whether the importer reads the file name of an
// archive, whose top directory is not known yet (so name is tried as it is
// and without its first component), and whether it needs only the name
// (database dumps: their names tell the databases).
func wantedEntry(name string) (want, namesOnly bool) {
	for _, rel := range []string{name, dropFirst(name)} {
		if rel == "" {
			continue
		}
		if w, n := wantedRel(rel); w {
			return true, n
		}
	}
	return false, false
}

func dropFirst(p string) string {
	_, rest, ok := strings.Cut(p, "/")
	if !ok {
		return ""
	}
	return rest
}

// wantedRel is wantedEntry for a path relative to the top directory.
func wantedRel(rel string) (want, namesOnly bool) {
	parts := strings.Split(rel, "/")
	switch len(parts) {
	case 1:
		return rel == "shadow", false
	case 2:
		switch parts[0] {
		case "cp", "suspended":
			return true, false
		case "userdata":
			return parts[1] == "main", false
		case "resellerconfig":
			return parts[1] == "resellers", false
		case "api_tokens":
			return parts[1] == "cpanel" || parts[1] == "whostmgr", false
		case "mysql":
			return strings.HasSuffix(parts[1], ".create"), true
		}
	case 4:
		if parts[0] == "homedir" && parts[1] == "etc" {
			switch parts[3] {
			case "passwd", "shadow", "quota":
				return true, false
			}
		}
	}
	return false, false
}

// topDir finds the archive's top directory from the account file
// cp/USER: the archive must hold exactly one.
func topDir(kept map[string][]byte) (string, error) {
	tops := map[string]bool{}
	for p := range kept {
		dir := path.Dir(p)
		switch {
		case dir == "cp":
			tops[""] = true
		case path.Base(dir) == "cp" && !strings.Contains(path.Dir(dir), "/"):
			tops[path.Dir(dir)] = true
		}
	}
	switch len(tops) {
	case 0:
		return "", errors.New("no cp/USER file: this is not a pkgacct (cpmove) archive")
	case 1:
		for t := range tops {
			return t, nil
		}
	}
	var names []string
	for t := range tops {
		if t == "" {
			t = "."
		}
		names = append(names, t)
	}
	sort.Strings(names)
	return "", fmt.Errorf("the archive has account files under several top directories (%s); give one account's archive", strings.Join(names, ", "))
}
