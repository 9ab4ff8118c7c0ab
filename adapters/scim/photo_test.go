package scim_test

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/cardsaddon/extprod/adapters/scim"
	"github.com/cardsaddon/extprod/adapters/scim/scimtest"
	"github.com/cardsaddon/extprod/ports"
)

// TestPhoto: the photo a real SCIM server names is fetched from its own origin, without its
// credentials, size-capped and type-checked; anything else is refused or not found.
func TestPhoto(t *testing.T) {
	d := scimtest.New(t)
	jpg, pngData := testJPEG(t), testPNG(t)
	d.SetPhoto("/photos/ada.jpg", jpg)
	d.SetPhoto("/photos/ada.png", pngData)
	d.SetPhoto("/photos/ada.gif", []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"))
	d.SetPhoto("/photos/ada.svg", []byte(`<svg xmlns="http://www.w3.org/2000/svg"/>`))
	d.SetPhoto("/photos/big.jpg", append(bytes.Clone(jpg), make([]byte, 2048)...))

	// another origin that counts what reaches it
	var foreignHits atomic.Int64
	foreign := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		foreignHits.Add(1)
		_, _ = w.Write(jpg)
	}))
	t.Cleanup(foreign.Close)
	// redirects on the directory's origin
	mux := d.Mux
	mux.HandleFunc("/moved/same", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/photos/ada.png", http.StatusFound)
	})
	mux.HandleFunc("/moved/away", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, foreign.URL+"/ada.jpg", http.StatusFound)
	})
	mux.HandleFunc("/moved/loop", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/moved/loop", http.StatusFound)
	})
	mux.HandleFunc("/photos/announced-big.jpg", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(1<<21))
		_, _ = w.Write(jpg) // the client must not wait for the rest
	})
	mux.HandleFunc("/photos/broken.jpg", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	})

	ada := d.Create(resource(withOrigin(d, adaMembers)))
	cfg := config(d)
	cfg.MaxPhotoBytes = 1024
	dir := open(t, cfg)
	u, err := dir.User(t.Context(), ada)
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name, url string
		want      error
		wantData  []byte
		wantType  string
	}{
		{name: "the directory's photo", url: u.PhotoURL, wantData: jpg, wantType: "image/jpeg"},
		{name: "png", url: d.Origin + "/photos/ada.png", wantData: pngData, wantType: "image/png"},
		{name: "relative", url: "/photos/ada.png", wantData: pngData, wantType: "image/png"},
		{name: "same-origin redirect", url: d.Origin + "/moved/same", wantData: pngData, wantType: "image/png"},
		{name: "none", url: "", want: ports.ErrNotFound},
		{name: "gone", url: d.Origin + "/photos/nobody.jpg", want: ports.ErrNotFound},
		{name: "gif", url: d.Origin + "/photos/ada.gif", want: ports.ErrPhotoRefused},
		{name: "svg", url: d.Origin + "/photos/ada.svg", want: ports.ErrPhotoRefused},
		{name: "too large", url: d.Origin + "/photos/big.jpg", want: ports.ErrPhotoRefused},
		{name: "announced too large", url: d.Origin + "/photos/announced-big.jpg", want: ports.ErrPhotoRefused},
		{name: "another origin", url: foreign.URL + "/ada.jpg", want: ports.ErrPhotoRefused},
		{name: "another scheme", url: "https" + d.Origin[len("http"):] + "/photos/ada.jpg", want: ports.ErrPhotoRefused},
		{name: "protocol-relative to another host", url: "//elsewhere.example/ada.jpg", want: ports.ErrPhotoRefused},
		{name: "user info", url: "http://user:pw@" + d.Origin[len("http://"):] + "/photos/ada.jpg", want: ports.ErrPhotoRefused},
		{name: "data URI", url: "data:image/jpeg;base64,/9j/", want: ports.ErrPhotoRefused},
		{name: "redirect to another origin", url: d.Origin + "/moved/away", want: ports.ErrPhotoRefused},
		{name: "redirect loop", url: d.Origin + "/moved/loop", want: ports.ErrPhotoRefused},
		{name: "server error", url: d.Origin + "/photos/broken.jpg", want: ports.ErrUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			v := u
			v.PhotoURL = tc.url
			var (
				data []byte
				ct   string
				err  error
			)
			within(t, 10*time.Second, func() { data, ct, err = dir.Photo(t.Context(), v) })
			if tc.want != nil {
				is.True(errors.Is(err, tc.want)) // the wanted error
				is.Equal(data, nil)
				return
			}
			is.NoErr(err)
			is.Equal(ct, tc.wantType)
			is.True(bytes.Equal(data, tc.wantData))
		})
	}
	if n := foreignHits.Load(); n != 0 {
		t.Errorf("another origin was asked %d times", n)
	}
}

// TestPhotoCredentials: the bearer token goes with a photo request only when the host says so.
func TestPhotoCredentials(t *testing.T) {
	jpg := testJPEG(t)
	for _, send := range []bool{false, true} {
		t.Run(strconv.FormatBool(send), func(t *testing.T) {
			is := is.New(t)
			var auth string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				auth = r.Header.Get("Authorization")
				_, _ = w.Write(jpg)
			}))
			t.Cleanup(srv.Close)
			dir := open(t, scim.Config{BaseURL: srv.URL + "/scim/v2", Token: scimtest.Token, SendTokenWithPhoto: send})
			_, _, err := dir.Photo(t.Context(), ports.User{PhotoURL: srv.URL + "/photos/x.jpg"})
			is.NoErr(err)
			is.Equal(auth != "", send)
			if send {
				is.Equal(auth, "Bearer "+scimtest.Token)
			}
		})
	}
}

// TestPhotoDefaultCap: the default cap is 1 MiB: a photo of exactly that size is taken, one
// byte more is refused.
func TestPhotoDefaultCap(t *testing.T) {
	jpg := testJPEG(t)
	for _, tc := range []struct {
		size int
		want error
	}{{scim.DefaultMaxPhotoBytes, nil}, {scim.DefaultMaxPhotoBytes + 1, ports.ErrPhotoRefused}} {
		t.Run(strconv.Itoa(tc.size), func(t *testing.T) {
			is := is.New(t)
			body := append(bytes.Clone(jpg), make([]byte, tc.size-len(jpg))...)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Del("Content-Length")
				w.(http.Flusher).Flush() // chunked: the client counts what it reads
				_, _ = w.Write(body)
			}))
			t.Cleanup(srv.Close)
			dir := open(t, scim.Config{BaseURL: srv.URL, Token: scimtest.Token})
			data, _, err := dir.Photo(t.Context(), ports.User{PhotoURL: srv.URL + "/p.jpg"})
			if tc.want != nil {
				is.True(errors.Is(err, tc.want))
				return
			}
			is.NoErr(err)
			is.Equal(len(data), tc.size)
		})
	}
}

// TestPhotoSlow: a photo that does not come is unavailable after the timeout, under a watchdog.
func TestPhotoSlow(t *testing.T) {
	is := is.New(t)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	const timeout = 100 * time.Millisecond
	dir := open(t, scim.Config{BaseURL: srv.URL, Token: scimtest.Token, Timeout: timeout})
	var err error
	within(t, 40*timeout, func() { _, _, err = dir.Photo(t.Context(), ports.User{PhotoURL: srv.URL + "/p.jpg"}) })
	is.True(errors.Is(err, ports.ErrUnavailable))
}
