package ldapdir

import (
	"context"
	"testing"

	"github.com/weaveproxy/weaveproxy/native/auth"
	"github.com/weaveproxy/weaveproxy/native/store"
	"github.com/weaveproxy/weaveproxy/native/store/storetest"
)

// BenchmarkAuthenticate compares one Basic check against the directory
// (search + bind, each on a fresh connection) with one against the users
// table, for the report: go test -bench Authenticate ./native/auth/ldapdir.
func BenchmarkAuthenticate(b *testing.B) {
	ctx := context.Background()
	f := newFixture(b, InetOrgPerson)
	stored, _ := f.dir.StoredPassword("bench password")
	if _, err := f.dir.CreateUser(ctx, store.User{Username: "bench", MD5: stored}); err != nil {
		b.Fatal(err)
	}
	sql := storetest.SQLite().Open(b)
	storetest.AddUser(b, sql, store.User{Username: "bench", MD5: auth.HashPassword("bench password"), Status: 1})
	for _, c := range []struct {
		name  string
		users store.Users
	}{{"ldap", f.dir}, {"sqlite", sql}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				u, err := c.users.UserByName(ctx, "bench")
				if err != nil {
					b.Fatal(err)
				}
				if ok, err := auth.VerifyPassword(ctx, c.users, u, "bench password"); !ok || err != nil {
					b.Fatal(ok, err)
				}
			}
		})
	}
}
