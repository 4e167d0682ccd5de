// Package architecture holds the tests that keep the repository's structure
// what docs/architecture.md says it is: the import rules between packages,
// every package named in the document, and no copy of the published vendor
// samples of ../shared/fixtures inside the repository. It has no code of
// its own.
package architecture
