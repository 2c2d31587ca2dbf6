package console

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// tmplKey finds the texts templates translate: {{t $.L "..."}} and
// {{t $l "..."}}.
var tmplKey = regexp.MustCompile(`\{\{t \$[A-Za-z.]*\s+"((?:[^"\\]|\\.)*)"`)

// usedKeys collects every text key of the console: from the embedded
// templates and from the h.tr calls in the Go source.
func usedKeys(t *testing.T) map[string]string {
	t.Helper()
	keys := map[string]string{}
	err := fs.WalkDir(assets, "templates", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := assets.ReadFile(p)
		if err != nil {
			return err
		}
		for _, m := range tmplKey.FindAllStringSubmatch(string(b), -1) {
			k, err := strconv.Unquote(`"` + m[1] + `"`)
			if err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			keys[k] = p
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		file, err := parser.ParseFile(fset, f, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || sel.Sel.Name != "tr" || len(call.Args) < 2 {
				return true
			}
			lit, ok := call.Args[1].(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				t.Errorf("%s: h.tr with a key that is not a string literal", fset.Position(call.Pos()))
				return true
			}
			k, _ := strconv.Unquote(lit.Value)
			keys[k] = f
			return true
		})
	}
	return keys
}

var verb = regexp.MustCompile(`%[a-z]`)

// TestCatalogue_CoversEveryKey fails on a text with no translation, on a
// translation whose fmt verbs differ from the English ones, and on a
// translation nothing uses any more.
func TestCatalogue_CoversEveryKey(t *testing.T) {
	used := usedKeys(t)
	if len(used) < 100 {
		t.Fatalf("found only %d keys: the scan is broken", len(used))
	}
	for _, l := range languages[1:] {
		for k, where := range used {
			tr, ok := catalog[l][k]
			if !ok {
				t.Errorf("%s: no %s text for %q", where, l, k)
				continue
			}
			if a, b := strings.Join(verb.FindAllString(k, -1), ""), strings.Join(verb.FindAllString(tr, -1), ""); a != b {
				t.Errorf("%s text for %q has verbs %q, want %q", l, k, b, a)
			}
		}
		for k := range catalog[l] {
			if _, ok := used[k]; !ok && !strings.HasPrefix(k, "=") {
				t.Errorf("%s text for %q is used nowhere", l, k)
			}
		}
	}
}

func TestTranslate_MissingKeyFails(t *testing.T) {
	if _, err := translate(langDE, "no such text"); err == nil {
		t.Fatal("a missing German text is not an error")
	}
	if s, err := translate(langEN, "%d records", 3); err != nil || s != "3 records" {
		t.Fatalf("English: %q, %v", s, err)
	}
	if s, err := translate(langDE, "%d records", 3); err != nil || s != "3 Datensätze" {
		t.Fatalf("German: %q, %v", s, err)
	}
}

func TestAcceptLanguage(t *testing.T) {
	for _, c := range []struct{ header, want string }{
		{"", "en"},
		{"de", "de"},
		{"de-AT,de;q=0.9,en;q=0.8", "de"},
		{"en-US,en;q=0.9,de;q=0.8", "en"},
		{"fr-FR,fr;q=0.9,de;q=0.7,en;q=0.5", "de"},
		{"fr", "en"},
		{"en;q=0.2, DE-de;q=0.8", "de"},
		{"de;q=0, en;q=0.1", "en"},
		{"de;q=bad", "en"},
	} {
		if got := acceptLanguage(c.header); got != c.want {
			t.Errorf("Accept-Language %q: %s, want %s", c.header, got, c.want)
		}
	}
}
