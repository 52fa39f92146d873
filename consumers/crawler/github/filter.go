package github

import (
	"bytes"
	"path"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Why a file was left out. The counts per reason go into the document's
// Metadata as "skipped_<reason>".
const (
	skipHidden    = "hidden"           // a path segment starts with "."
	skipVendored  = "vendored"         // under a dependency or build output directory
	skipGenerated = "generated"        // lock files, minified and generated code
	skipType      = "unsupported_type" // extension not in the allow-list
	skipTooLarge  = "too_large"        // over MaxFileBytes (JSON: over maxJSONBytes)
	skipBinary    = "binary"           // NUL byte in the first 8 KB, or invalid UTF-8
	skipSymlink   = "symlink"
	skipRepoCap   = "repo_cap" // after MaxRepoBytes was reached
)

// maxJSONBytes caps JSON files much lower than other files: small JSON is
// configuration worth reading, large JSON is data or fixtures.
const maxJSONBytes = 16 << 10

// binarySniffBytes is how far a NUL byte marks a file as binary, as git does.
const binarySniffBytes = 8 << 10

// languages is the allow-list of extensions (lowercased), each with the
// language tag of the code fence it is rendered in.
var languages = map[string]string{
	// Source code.
	".go": "go", ".py": "python", ".js": "javascript", ".ts": "typescript",
	".tsx": "tsx", ".jsx": "jsx", ".rs": "rust", ".java": "java", ".kt": "kotlin",
	".c": "c", ".h": "c", ".cpp": "cpp", ".hpp": "cpp", ".cs": "csharp",
	".rb": "ruby", ".php": "php", ".swift": "swift", ".scala": "scala",
	".sh": "bash", ".sql": "sql", ".lua": "lua", ".r": "r", ".jl": "julia",
	".ex": "elixir", ".exs": "elixir", ".hs": "haskell", ".ml": "ocaml",
	".clj": "clojure", ".dart": "dart",
	// Documentation and configuration.
	".md": "markdown", ".rst": "rst", ".txt": "text", ".adoc": "asciidoc",
	".toml": "toml", ".yaml": "yaml", ".yml": "yaml", ".json": "json",
	".ini": "ini", ".cfg": "ini",
}

// namedFiles are the files kept without an extension, by lowercased name.
var namedFiles = map[string]string{
	"readme": "text", "license": "text", "makefile": "makefile", "dockerfile": "dockerfile",
}

// docExtensions are prose, not code: the generic "generated, do not edit"
// phrases are not looked for in them, since a README may well explain
// which files are generated.
var docExtensions = map[string]bool{".md": true, ".rst": true, ".txt": true, ".adoc": true}

// vendoredDirs hold code the author did not write (dependencies) or did not
// write by hand (build output, caches); a file under one is skipped.
var vendoredDirs = map[string]bool{
	"vendor": true, "node_modules": true, "third_party": true, ".git": true,
	"dist": true, "build": true, "target": true, "__pycache__": true, ".venv": true,
}

// lockFiles are dependency lock files: generated, long, and nothing the
// author wrote.
var lockFiles = map[string]bool{
	"package-lock.json": true, "yarn.lock": true, "go.sum": true, "cargo.lock": true,
	"poetry.lock": true, "pnpm-lock.yaml": true, "composer.lock": true,
	"gemfile.lock": true, "pipfile.lock": true, "uv.lock": true, "mix.lock": true,
	"pubspec.lock": true, "flake.lock": true,
}

// generatedSuffixes end the names of generated files (lowercased).
var generatedSuffixes = []string{
	".pb.go", ".pb.gw.go", "_pb2.py", "_pb2_grpc.py", ".min.js", ".min.css",
}

var (
	// goGenerated is Go's convention for generated files
	// (https://go.dev/s/generatedcode), with any line comment marker, so
	// that other languages following it are recognized too.
	goGenerated = regexp.MustCompile(`(?m)^\s*(//|#|--|;|/?\*)\s*Code generated .* DO NOT EDIT\.?\s*$`)
	// otherGenerated catches the common variants of other tools:
	// "@generated" (Buck, Rust, Meta), "auto-generated ... do not edit".
	otherGenerated = regexp.MustCompile(`@generated\b|(?i)\b(auto-?generated|generated (by|from|automatically))\b[^\n]{0,120}\bdo not (edit|modify)\b`)
)

// generatedHeaderBytes is how much of a file's head is searched for a
// generated-code marker; tools put it at the top.
const generatedHeaderBytes = 4 << 10

// skipByPath returns why the file at p (a slash-separated path relative to
// the repository root) is skipped without reading it, or "".
func skipByPath(p string) string {
	segs := strings.Split(p, "/")
	for _, dir := range segs[:len(segs)-1] {
		if vendoredDirs[strings.ToLower(dir)] {
			return skipVendored
		}
	}
	for _, seg := range segs {
		if strings.HasPrefix(seg, ".") {
			return skipHidden
		}
	}
	name := strings.ToLower(segs[len(segs)-1])
	if lockFiles[name] || strings.Contains(name, "_generated.") {
		return skipGenerated
	}
	for _, suffix := range generatedSuffixes {
		if strings.HasSuffix(name, suffix) {
			return skipGenerated
		}
	}
	if language(p) == "" {
		return skipType
	}
	return ""
}

// skipByContent returns why the file at p with content data is skipped, or
// "".
func skipByContent(p string, data []byte) string {
	if bytes.IndexByte(data[:min(len(data), binarySniffBytes)], 0) >= 0 || !utf8.Valid(data) {
		return skipBinary
	}
	head := data[:min(len(data), generatedHeaderBytes)]
	if goGenerated.Match(head) {
		return skipGenerated
	}
	if !docExtensions[strings.ToLower(path.Ext(p))] && !isNamedFile(p) && otherGenerated.Match(head) {
		return skipGenerated
	}
	return ""
}

// language returns the code fence language of the file at p, or "" when p
// is not in the allow-list.
func language(p string) string {
	name := strings.ToLower(path.Base(p))
	if lang, ok := namedFiles[name]; ok {
		return lang
	}
	return languages[path.Ext(name)]
}

func isNamedFile(p string) bool {
	_, ok := namedFiles[strings.ToLower(path.Base(p))]
	return ok
}

func isJSON(p string) bool { return strings.EqualFold(path.Ext(p), ".json") }
