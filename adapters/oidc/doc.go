// Package oidc is placeholder.
package oidc
