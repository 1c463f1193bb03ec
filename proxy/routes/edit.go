package routes

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"gopkg.in/yaml.v3"
)

// SetMode rewrites a routes file so that route match has mode (and, for
// canary, percent), keeping the comments and the other entries: it edits
// the YAML node tree rather than re-marshalling a struct. A route not
// listed yet is appended. Leaving canary drops the percent key. The result
// is parsed before it is returned, so it is never an invalid file.
//
// This is the primitive of the cutover gate (`weaveproxy routes promote`):
// write the file, and the proxy's watch reloads it.
func SetMode(src []byte, match string, mode Mode, percent int) ([]byte, error) {
	if !mode.Valid() {
		return nil, fmt.Errorf("routes: unknown mode %q", mode)
	}
	m, pat, err := splitMatch(match)
	if err != nil {
		return nil, fmt.Errorf("routes: %w", err)
	}
	match = m + " " + pat
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, fmt.Errorf("routes: %w", err)
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("routes: the file is not a mapping")
	}
	seq := valueOf(doc.Content[0], "routes")
	if seq == nil || seq.Kind != yaml.SequenceNode {
		if seq == nil {
			seq = &yaml.Node{}
			doc.Content[0].Content = append(doc.Content[0].Content, scalar("routes"), seq)
		}
		*seq = yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
	}
	entry := findEntry(seq, match)
	if entry == nil {
		entry = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		entry.Content = append(entry.Content, scalar("match"), quoted(match))
		seq.Content = append(seq.Content, entry)
	}
	setKey(entry, "mode", scalar(string(mode)))
	if mode == Canary {
		setKey(entry, "percent", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(percent)})
	} else {
		deleteKey(entry, "percent")
	}
	var out bytes.Buffer
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, fmt.Errorf("routes: %w", err)
	}
	if _, err := Parse(out.Bytes(), "edited routes"); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// SetModeFile applies SetMode to the file at path and replaces it
// atomically (write a temp file beside it, then rename), so a watcher never
// reads half a file.
func SetModeFile(path string, match string, mode Mode, percent int) error {
	src, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("routes: %w", err)
	}
	out, err := SetMode(src, match, mode, percent)
	if err != nil {
		return err
	}
	return WriteFileAtomic(path, out)
}

// WriteFileAtomic replaces path with data through a rename, keeping the
// file's permissions.
func WriteFileAtomic(path string, data []byte) error {
	perm := os.FileMode(0o644)
	if st, err := os.Stat(path); err == nil {
		perm = st.Mode().Perm()
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("routes: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op once renamed
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("routes: %w", err)
	}
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return fmt.Errorf("routes: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("routes: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("routes: %w", err)
	}
	return nil
}

func scalar(v string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v} }

func quoted(v string) *yaml.Node {
	n := scalar(v)
	n.Style = yaml.DoubleQuotedStyle
	return n
}

func valueOf(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func findEntry(seq *yaml.Node, match string) *yaml.Node {
	for _, e := range seq.Content {
		if e.Kind != yaml.MappingNode {
			continue
		}
		if v := valueOf(e, "match"); v != nil && canonical(v.Value) == match {
			return e
		}
	}
	return nil
}

// setKey replaces the value's text in place, so comments attached to the
// old value node survive.
func setKey(m *yaml.Node, key string, v *yaml.Node) {
	if old := valueOf(m, key); old != nil {
		old.Value, old.Tag, old.Kind = v.Value, v.Tag, v.Kind
		return
	}
	m.Content = append(m.Content, scalar(key), v)
}

func deleteKey(m *yaml.Node, key string) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content = append(m.Content[:i], m.Content[i+2:]...)
			return
		}
	}
}

// canonical is a match as the table names it (one space after the method).
func canonical(match string) string {
	m, pat, err := splitMatch(match)
	if err != nil {
		return match
	}
	return m + " " + pat
}
