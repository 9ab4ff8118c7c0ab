package integration

import (
	"bufio"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/matryer/is"

	"github.com/cardsaddon/extprod/adapters/httpapi"
	"github.com/cardsaddon/extprod/cardorder"
)

// modulePath is the root module; the repository root is the directory of its go.mod.
const modulePath = "github.com/cardsaddon/extprod"

// blobPrefix starts a link to a file of this repository on GitHub.
const blobPrefix = "https://" + modulePath + "/blob/main/"

var (
	// urlRe finds URLs; only this repository's blob URLs are checked.
	urlRe = regexp.MustCompile(`https?://[^\s<>()\[\]{}"'` + "`" + `]+`)
	// docRe finds a document name, with an optional #anchor, a §section or a "Heading" after it.
	docRe = regexp.MustCompile(`(?:^|[^A-Za-z0-9_./-])([A-Za-z0-9_./-]*[A-Za-z0-9_-]\.md)\b(?:#([\w-]+)|\s*§\s*(\d+)|\s+"([^"]+)")?`)
	// headingRe is an ATX heading of Markdown.
	headingRe = regexp.MustCompile(`^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$`)
	// explicitAnchorRe is an HTML anchor written into a Markdown file.
	explicitAnchorRe = regexp.MustCompile(`<a\s+(?:id|name)="([^"]+)"`)
	// mdLinkRe is an inline Markdown link, whose text is what a heading's slug is made of.
	mdLinkRe = regexp.MustCompile(`\[([^\]]*)\]\([^)]*\)`)
	// localLinkRe is a Markdown link to an anchor of the same document.
	localLinkRe = regexp.MustCompile(`\]\(#([\w-]+)\)`)
)

// TestDocumentReferences walks every .go and .md file of the repository and checks what it
// cites: a named document exists (relative to the repository root or to the citing file), an
// #anchor, a §section or a "Heading" after it exists in that document, a link to this
// repository's files on GitHub names an existing file and anchor, and a Markdown link to an
// anchor of its own document (](#anchor)) finds it. The docs are the reference a
// host developer reads; a citation that leads nowhere is a bug.
func TestDocumentReferences(t *testing.T) {
	is := is.New(t)
	root := repoRoot(t)
	docs := newDocIndex(root)
	n := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != root && (d.Name() == ".git" || d.Name() == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if ext := filepath.Ext(path); ext != ".go" && ext != ".md" {
			return nil
		}
		n++
		rel, _ := filepath.Rel(root, path)
		for _, f := range checkFile(docs, filepath.ToSlash(rel)) {
			t.Error(f)
		}
		return nil
	})
	is.NoErr(err)
	is.True(n > 50) // the walk saw the repository
}

// TestProblemCodesDocumented checks that every problem code the HTTP adapter can answer (its own
// and the domain's) has its anchor in the HTTP API guide, so each problem's type URL leads to the
// code's explanation.
func TestProblemCodesDocumented(t *testing.T) {
	is := is.New(t)
	root := repoRoot(t)
	docs := newDocIndex(root)
	is.True(strings.HasPrefix(httpapi.ProblemTypePrefix, blobPrefix)) // type URLs point into this repository

	codes := problemCodes(t, root)
	// The scan found the codes the packages export (a scan that finds nothing proves nothing).
	for _, c := range []cardorder.Code{httpapi.CodeBadRequest, httpapi.CodeMethodNotAllowed, httpapi.CodeUnavailable,
		httpapi.CodeInternal, cardorder.CodeOrderExists, cardorder.CodeProviderUnavailable} {
		if !slices.Contains(codes, string(c)) {
			t.Errorf("the scan of the code constants missed %q", c)
		}
	}
	for _, c := range codes {
		// The handler knows the code: only internal failures answer 500.
		if st := httpapi.StatusOf(cardorder.Code(c)); st == 500 && c != string(httpapi.CodeInternal) && c != string(cardorder.CodeScriptFailed) {
			t.Errorf("problem code %q answers 500: the handler does not know it", c)
		}
		url := httpapi.ProblemTypePrefix + c
		if msg := docs.checkBlobURL(url); msg != "" {
			t.Errorf("problem code %q: type %s: %s", c, url, msg)
		}
	}
}

// TestSlug pins the heading-anchor rules the checks rely on (GitHub's).
func TestSlug(t *testing.T) {
	is := is.New(t)
	for _, tc := range []struct{ heading, want string }{
		{"bad_request", "bad_request"},
		{"1. Actors and words", "1-actors-and-words"},
		{"8. Atomicity, in one place", "8-atomicity-in-one-place"},
		{"The `options` object", "the-options-object"},
		{"Status events (push)", "status-events-push"},
		{"[Links](https://example.com) and more", "links-and-more"},
		{"Rollen & Rechte", "rollen--rechte"},
	} {
		is.Equal(slug(tc.heading), tc.want) // slug of tc.heading
	}
	// Repeated headings get -1, -2… as on GitHub.
	is.Equal(anchorsOf("# A\n## A\n### A\n"), map[string]bool{"a": true, "a-1": true, "a-2": true})
	// Headings inside fenced code are not headings.
	is.Equal(anchorsOf("```\n# not a heading\n```\n## Real\n"), map[string]bool{"real": true})
}

// TestCheckFileFindsBadCitations proves the checker bites: every kind of broken citation is
// reported with its file and line. (The document names are assembled so that this file itself
// cites nothing.)
func TestCheckFileFindsBadCitations(t *testing.T) {
	is := is.New(t)
	dir := t.TempDir()
	md := ".md"
	write := func(name, text string) {
		p := filepath.Join(dir, filepath.FromSlash(name))
		is.NoErr(os.MkdirAll(filepath.Dir(p), 0o755))
		is.NoErr(os.WriteFile(p, []byte(text), 0o644))
	}
	write("docs/guide"+md, "# Guide\n\n## 3. Options\n\n## The card\n\n### bad_request\n")
	write("docs/index"+md, "# Index\n\nSee [the guide](guide"+md+"#the-card) and [the top](#index).\n")
	write("docs/broken"+md, "# Broken\n\nSee [nowhere](#nowhere).\n")
	write("cite.go", strings.Join([]string{
		"package x",
		"// docs/guide" + md + " §3 and docs/guide" + md + " \"The card\" and docs/guide" + md + "#bad_request",
		"// docs/missing" + md,
		"// docs/guide" + md + "#no-such-anchor",
		"// docs/guide" + md + " §9",
		"// docs/guide" + md + " \"No such heading\"",
		"// " + blobPrefix + "docs/guide" + md + "#bad_request and https://example.com/elsewhere" + md,
		"// " + blobPrefix + "docs/gone" + md,
		"// " + blobPrefix + "docs/guide" + md + "#nope",
	}, "\n"))
	docs := newDocIndex(dir)
	is.Equal(checkFile(docs, "docs/index"+md), nil) // a relative link from a document resolves
	is.Equal(checkFile(docs, "docs/broken"+md), []string{"docs/broken" + md + ":3: docs/broken" + md + " has no heading with anchor #nowhere"})
	got := checkFile(docs, "cite.go")
	is.Equal(len(got), 6) // six bad citations
	for i, line := range []int{3, 4, 5, 6, 8, 9} {
		is.True(strings.HasPrefix(got[i], "cite.go:"+strconv.Itoa(line)+": ")) // file and line named
	}
}

// repoRoot goes up from the working directory to the directory whose go.mod declares modulePath.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil {
			for _, line := range strings.Split(string(b), "\n") {
				if f := strings.Fields(line); len(f) == 2 && f[0] == "module" && strings.Trim(f[1], `"`) == modulePath {
					return dir
				}
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("no go.mod of module %s above the working directory", modulePath)
		}
		dir = parent
	}
}

// docIndex reads documents on demand and remembers their anchors.
type docIndex struct {
	root    string
	anchors map[string]map[string]bool // by slash path relative to root; nil: no such file
	heads   map[string][]string        // heading texts, by the same key
}

func newDocIndex(root string) *docIndex {
	return &docIndex{root: root, anchors: map[string]map[string]bool{}, heads: map[string][]string{}}
}

// load reads the document at rel (slash path relative to root) and reports whether it exists.
func (x *docIndex) load(rel string) bool {
	if a, seen := x.anchors[rel]; seen {
		return a != nil
	}
	b, err := os.ReadFile(filepath.Join(x.root, filepath.FromSlash(rel)))
	if err != nil {
		x.anchors[rel] = nil
		return false
	}
	x.anchors[rel] = anchorsOf(string(b))
	x.heads[rel] = headingsOf(string(b))
	return true
}

// resolve finds a document named in the file at from: relative to the file's directory, else to
// the repository root. It returns the slash path relative to root, or "".
func (x *docIndex) resolve(from, name string) string {
	for _, base := range []string{filepath.ToSlash(filepath.Dir(from)), "."} {
		p := filepath.ToSlash(filepath.Clean(filepath.Join(base, name)))
		if strings.HasPrefix(p, "../") || p == ".." {
			continue
		}
		if x.load(p) {
			return p
		}
	}
	return ""
}

// checkTarget checks an anchor, a §section and a heading text in the document doc (all optional).
func (x *docIndex) checkTarget(doc, anchor, section, heading string) string {
	switch {
	case anchor != "" && !x.anchors[doc][anchor]:
		return fmt.Sprintf("%s has no heading with anchor #%s", doc, anchor)
	case section != "":
		for _, h := range x.heads[doc] {
			if strings.HasPrefix(h, section+". ") {
				return ""
			}
		}
		return fmt.Sprintf("%s has no section §%s (a heading starting %q)", doc, section, section+". ")
	case heading != "" && !slices.Contains(x.heads[doc], heading):
		return fmt.Sprintf("%s has no heading %q", doc, heading)
	}
	return ""
}

// checkBlobURL checks a link to a file of this repository on GitHub; "" when it resolves.
func (x *docIndex) checkBlobURL(url string) string {
	rest := strings.TrimPrefix(url, blobPrefix)
	path, anchor, _ := strings.Cut(rest, "#")
	path = strings.TrimRight(path, ".,;:")
	anchor = strings.TrimRight(anchor, ".,;:")
	if path == "" || !x.load(path) {
		return fmt.Sprintf("no file %s in the repository", path)
	}
	if anchor != "" && strings.HasSuffix(path, ".md") {
		return x.checkTarget(path, anchor, "", "")
	}
	return ""
}

// checkFile returns one "file:line: message" per broken citation in the file at rel.
func checkFile(x *docIndex, rel string) []string {
	f, err := os.Open(filepath.Join(x.root, filepath.FromSlash(rel)))
	if err != nil {
		return []string{fmt.Sprintf("%s: %v", rel, err)}
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for ln := 1; sc.Scan(); ln++ {
		line := sc.Text()
		report := func(format string, args ...any) {
			out = append(out, fmt.Sprintf("%s:%d: %s", rel, ln, fmt.Sprintf(format, args...)))
		}
		// URLs first: this repository's blob URLs are checked, others ignored; both are blanked
		// out so their paths are not read again as document names.
		for _, loc := range urlRe.FindAllStringIndex(line, -1) {
			u := line[loc[0]:loc[1]]
			if strings.HasPrefix(u, blobPrefix) {
				if msg := x.checkBlobURL(u); msg != "" {
					report("%s: %s", u, msg)
				}
			}
			line = line[:loc[0]] + strings.Repeat(" ", loc[1]-loc[0]) + line[loc[1]:]
		}
		if strings.HasSuffix(rel, ".md") {
			for _, m := range localLinkRe.FindAllStringSubmatch(line, -1) {
				if x.load(rel) && !x.anchors[rel][m[1]] {
					report("%s has no heading with anchor #%s", rel, m[1])
				}
			}
		}
		for _, m := range docRe.FindAllStringSubmatch(line, -1) {
			name, anchor, section, heading := m[1], m[2], m[3], m[4]
			doc := x.resolve(rel, name)
			if doc == "" {
				report("%s: no such document (relative to %s or to the repository root)", name, pathDir(rel))
				continue
			}
			if msg := x.checkTarget(doc, anchor, section, heading); msg != "" {
				report("%s", msg)
			}
		}
	}
	if err := sc.Err(); err != nil {
		out = append(out, fmt.Sprintf("%s: %v", rel, err))
	}
	return out
}

func pathDir(rel string) string {
	if d := filepath.ToSlash(filepath.Dir(rel)); d != "." {
		return d + "/"
	}
	return "its directory"
}

// headingsOf returns the text of every heading of a Markdown document, outside fenced code.
func headingsOf(md string) []string {
	var out []string
	fence := ""
	for _, line := range strings.Split(md, "\n") {
		trimmed := strings.TrimSpace(line)
		if fence != "" {
			if strings.HasPrefix(trimmed, fence) {
				fence = ""
			}
			continue
		}
		if strings.HasPrefix(trimmed, "```") || strings.HasPrefix(trimmed, "~~~") {
			fence = trimmed[:3]
			continue
		}
		if m := headingRe.FindStringSubmatch(line); m != nil {
			out = append(out, m[2])
		}
	}
	return out
}

// anchorsOf returns the anchors of a Markdown document: its headings' slugs (repeats numbered as
// GitHub numbers them) and explicit <a id> anchors.
func anchorsOf(md string) map[string]bool {
	out := map[string]bool{}
	seen := map[string]int{}
	for _, h := range headingsOf(md) {
		s := slug(h)
		if n := seen[s]; n > 0 {
			seen[s]++
			s = s + "-" + strconv.Itoa(n)
		} else {
			seen[s] = 1
		}
		out[s] = true
	}
	for _, m := range explicitAnchorRe.FindAllStringSubmatch(md, -1) {
		out[m[1]] = true
	}
	return out
}

// slug is GitHub's anchor of a heading: link markup reduced to its text, lower case, every
// character but letters, digits, spaces, '-' and '_' dropped, spaces turned into '-'.
func slug(heading string) string {
	heading = mdLinkRe.ReplaceAllString(heading, "$1")
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteByte('-')
		}
	}
	return b.String()
}

// problemCodes returns the problem codes of the HTTP adapter and the domain: the string values
// of the Code… constants of adapters/httpapi and cardorder, read from their sources (the
// packages export the constants but no list of them).
func problemCodes(t *testing.T, root string) []string {
	t.Helper()
	fset := token.NewFileSet()
	consts := map[string]map[string]ast.Expr{} // package dir → constant name → value
	for _, dir := range []string{"cardorder", "adapters/httpapi"} {
		consts[dir] = map[string]ast.Expr{}
		files, err := filepath.Glob(filepath.Join(root, filepath.FromSlash(dir), "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, fn := range files {
			if strings.HasSuffix(fn, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(fset, fn, nil, parser.SkipObjectResolution)
			if err != nil {
				t.Fatal(err)
			}
			for _, decl := range f.Decls {
				gd, ok := decl.(*ast.GenDecl)
				if !ok || gd.Tok != token.CONST {
					continue
				}
				for _, spec := range gd.Specs {
					vs := spec.(*ast.ValueSpec)
					for i, name := range vs.Names {
						if strings.HasPrefix(name.Name, "Code") && i < len(vs.Values) {
							consts[dir][name.Name] = vs.Values[i]
						}
					}
				}
			}
		}
	}
	// value evaluates a constant: a string literal, string(X) or cardorder.X.
	var value func(dir string, e ast.Expr) (string, bool)
	value = func(dir string, e ast.Expr) (string, bool) {
		switch e := e.(type) {
		case *ast.BasicLit:
			if e.Kind == token.STRING {
				s, err := strconv.Unquote(e.Value)
				return s, err == nil
			}
		case *ast.CallExpr:
			if fn, ok := e.Fun.(*ast.Ident); ok && fn.Name == "string" && len(e.Args) == 1 {
				return value(dir, e.Args[0])
			}
		case *ast.Ident:
			if v, ok := consts[dir][e.Name]; ok {
				return value(dir, v)
			}
		case *ast.SelectorExpr:
			if pkg, ok := e.X.(*ast.Ident); ok && pkg.Name == "cardorder" {
				if v, ok := consts["cardorder"][e.Sel.Name]; ok {
					return value("cardorder", v)
				}
			}
		}
		return "", false
	}
	var codes []string
	for dir, m := range consts {
		for name, e := range m {
			v, ok := value(dir, e)
			if !ok {
				t.Errorf("%s: constant %s is not a string the test can read", dir, name)
				continue
			}
			if !slices.Contains(codes, v) {
				codes = append(codes, v)
			}
		}
	}
	slices.Sort(codes)
	return codes
}
