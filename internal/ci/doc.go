// Package ci holds the tests of the repository's CI configuration
// (.github/): the workflows must lint clean, so a broken workflow fails here,
// on a laptop, before it fails on a pull request.
package ci
