package ldapdir

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/weaveproxy/weaveproxy/internal/testenv"
	"github.com/weaveproxy/weaveproxy/native/store"
	"github.com/weaveproxy/weaveproxy/native/store/sqlstore"
	"github.com/weaveproxy/weaveproxy/native/store/storetest"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// fixture is a directory on a fresh slapd, with a SQLite engine beside it.
type fixture struct {
	slapd *testenv.Slapd
	local *sqlstore.Engine
	dir   *Directory
}

func newFixture(t testing.TB, preset Preset) *fixture {
	t.Helper()
	s := testenv.StartSlapd(t, testenv.SlapdOptions{Schemas: []string{"testdata/mozilla-sync.schema"}})
	s.Add(t, "dn: ou=people,"+s.Suffix+"\nobjectClass: organizationalUnit\nou: people\n")
	local := storetest.SQLite().Open(t)
	cfg, err := preset.Apply(Config{URL: s.URL, BaseDN: "ou=people," + s.Suffix,
		BindDN: s.RootDN, BindPassword: s.RootPW, Local: local, IDs: local})
	if err != nil {
		t.Fatal(err)
	}
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{slapd: s, local: local, dir: d}
}

// seed adds an entry the way an operator's tools would, outside weaveproxy.
func (f *fixture) seed(t *testing.T, name, password string, extra ...string) {
	t.Helper()
	ldif := "dn: uid=" + name + ",ou=people," + f.slapd.Suffix + "\nobjectClass: inetOrgPerson\n"
	for _, x := range extra {
		if strings.HasPrefix(x, "objectClass:") {
			ldif += x + "\n"
		}
	}
	ldif += "uid: " + name + "\ncn: " + name + "\nsn: " + name + "\nuserPassword: " + password + "\n"
	for _, x := range extra {
		if !strings.HasPrefix(x, "objectClass:") {
			ldif += x + "\n"
		}
	}
	f.slapd.Add(t, ldif)
}

// attr reads one attribute as the directory manager sees it.
func (f *fixture) attr(t *testing.T, name, attr string) string {
	t.Helper()
	for _, line := range strings.Split(f.slapd.Search(t, "(uid="+name+")", attr), "\n") {
		if v, ok := strings.CutPrefix(line, attr+": "); ok {
			return v
		}
		if v, ok := strings.CutPrefix(line, attr+":: "); ok {
			return "base64:" + v
		}
	}
	return ""
}

func verify(t *testing.T, d *Directory, u store.User, pw string) bool {
	t.Helper()
	ok, err := d.VerifyPassword(context.Background(), u, pw)
	if err != nil {
		t.Fatalf("VerifyPassword(%q): %v", u.Username, err)
	}
	return ok
}

func TestSeededUserInetOrgPerson(t *testing.T) {
	f := newFixture(t, InetOrgPerson)
	ctx := context.Background()
	f.seed(t, "alice", "alice-secret", "mail: alice@example.org")
	u, err := f.dir.UserByName(ctx, "ALICE")
	if err != nil {
		t.Fatal(err)
	}
	// No uidNumber: the id comes from our map, and stays.
	mapped, err := f.local.MappedUserID(ctx, "alice", false)
	if err != nil {
		t.Fatal(err)
	}
	want := store.User{ID: mapped, Username: "alice", Email: "alice@example.org", Status: 1}
	if diff := cmp.Diff(want, u); diff != "" {
		t.Fatalf("user (-want +got):\n%s", diff)
	}
	if again, _ := f.dir.UserByName(ctx, "alice"); again.ID != u.ID {
		t.Fatalf("id changed between lookups: %d then %d", u.ID, again.ID)
	}
	for _, c := range []struct {
		pw   string
		want bool
	}{{"alice-secret", true}, {"wrong", false}, {"", false}, {"alice-secret ", false}} {
		if got := verify(t, f.dir, u, c.pw); got != c.want {
			t.Errorf("password %q: %v, want %v", c.pw, got, c.want)
		}
	}
	// The name is escaped into the filter: a wildcard matches nobody.
	for _, name := range []string{"a*", "*", "alice)(uid=*", `alic\65`} {
		if _, err := f.dir.UserByName(ctx, name); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("UserByName(%q): %v, want ErrNotFound", name, err)
		}
	}
	if verify(t, f.dir, store.User{Username: "*"}, "alice-secret") {
		t.Error("a wildcard name bound as alice")
	}
}

func TestSeededUserMozilla(t *testing.T) {
	f := newFixture(t, Mozilla)
	ctx := context.Background()
	f.seed(t, "bob", "bob-secret", "objectClass: dataStore", "uidNumber: 4242",
		"primaryNode: weave:node3.example.org", "account-enabled: Yes", "mail: bob@example.org")
	f.seed(t, "carol", "carol-secret", "objectClass: dataStore", "uidNumber: 4243", "account-enabled: No")
	u, err := f.dir.UserByName(ctx, "bob")
	if err != nil {
		t.Fatal(err)
	}
	want := store.User{ID: 4242, Username: "bob", Email: "bob@example.org", Location: "node3.example.org", Status: 1}
	if diff := cmp.Diff(want, u); diff != "" {
		t.Fatalf("user (-want +got):\n%s", diff)
	}
	c, err := f.dir.UserByName(ctx, "carol")
	if err != nil || c.Status == 1 || c.ID != 4243 {
		t.Fatalf("disabled carol: %+v, %v", c, err)
	}
	if !verify(t, f.dir, u, "bob-secret") || verify(t, f.dir, u, "carol-secret") {
		t.Fatal("bind check wrong")
	}
}

func TestLifecycle(t *testing.T) {
	for _, preset := range []Preset{InetOrgPerson, Mozilla} {
		t.Run(string(preset), func(t *testing.T) {
			f := newFixture(t, preset)
			ctx := context.Background()
			d := f.dir
			stored, err := d.StoredPassword("first-password")
			if err != nil || !strings.HasPrefix(stored, "{SSHA}") {
				t.Fatalf("StoredPassword: %q, %v", stored, err)
			}
			id, err := d.CreateUser(ctx, store.User{Username: "Dave", MD5: stored, Email: "dave@example.org"})
			if err != nil || id <= 0 {
				t.Fatalf("CreateUser: %d, %v", id, err)
			}
			if _, err := d.CreateUser(ctx, store.User{Username: "dave", MD5: stored}); !errors.Is(err, store.ErrUserExists) {
				t.Fatalf("second create: %v, want ErrUserExists", err)
			}
			if got := f.attr(t, "dave", "userPassword"); got == "" {
				t.Fatal("no userPassword on the new entry")
			}
			u, err := d.UserByName(ctx, "dave")
			if err != nil || u.ID != id || u.Status != 1 || u.Email != "dave@example.org" {
				t.Fatalf("created user reads back as %+v, %v (id %d)", u, err, id)
			}
			if preset == Mozilla && f.attr(t, "dave", "uidNumber") != strconv.FormatInt(id, 10) {
				t.Fatalf("uidNumber %q, want %d", f.attr(t, "dave", "uidNumber"), id)
			}
			if !verify(t, d, u, "first-password") {
				t.Fatal("the {SSHA} value written does not bind")
			}

			next, _ := d.StoredPassword("second-password")
			if err := d.SetPasswordMD5(ctx, id, next); err != nil {
				t.Fatal(err)
			}
			if verify(t, d, u, "first-password") || !verify(t, d, u, "second-password") {
				t.Fatal("password change did not take")
			}
			if err := d.SetEmail(ctx, id, "new@example.org"); err != nil {
				t.Fatal(err)
			}
			if got := f.attr(t, "dave", "mail"); got != "new@example.org" {
				t.Fatalf("mail = %q", got)
			}

			payload := "x"
			if _, err := f.local.PutItems(ctx, id, "bookmarks", []store.WBO{{ID: "a", Payload: &payload}}); err != nil {
				t.Fatal(err)
			}
			if err := d.SetResetCode(ctx, id, store.ResetCode{Code: "c"}); err != nil {
				t.Fatal(err)
			}
			if err := d.DeleteUser(ctx, id); err != nil {
				t.Fatal(err)
			}
			if _, err := d.UserByName(ctx, "dave"); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("deleted user: %v", err)
			}
			if n, _ := f.local.CollectionCounts(ctx, id, store.Timestamp(0)); len(n) != 0 {
				t.Fatalf("storage left after delete: %v", n)
			}
			if _, err := d.GetResetCode(ctx, id); !errors.Is(err, store.ErrNoResetCode) {
				t.Fatalf("reset code left after delete: %v", err)
			}
			again, err := d.CreateUser(ctx, store.User{Username: "dave", MD5: stored})
			if err != nil || again == id {
				t.Fatalf("re-created dave: id %d, %v; must not reuse %d", again, err, id)
			}
		})
	}
}

func TestMozillaIDClash(t *testing.T) {
	f := newFixture(t, Mozilla)
	ctx := context.Background()
	// An entry made outside weaveproxy holds the id the map hands out next.
	f.seed(t, "old", "pw-old-user", "objectClass: dataStore", "uidNumber: 1")
	stored, _ := f.dir.StoredPassword("new-password")
	id, err := f.dir.CreateUser(ctx, store.User{Username: "newbie", MD5: stored})
	if err != nil || id == 1 {
		t.Fatalf("CreateUser over a taken uidNumber: %d, %v", id, err)
	}
}

func TestDirectoryDown(t *testing.T) {
	f := newFixture(t, InetOrgPerson)
	f.seed(t, "erin", "erin-secret")
	f.slapd.Stop()
	ctx := context.Background()
	if _, err := f.dir.UserByName(ctx, "erin"); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("UserByName with slapd down: %v, want ErrUnavailable", err)
	}
	if _, err := f.dir.VerifyPassword(ctx, store.User{Username: "erin"}, "erin-secret"); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("VerifyPassword with slapd down: %v, want ErrUnavailable", err)
	}
}

func TestConfig(t *testing.T) {
	local := storetest.SQLite().Open(t)
	base := Config{URL: "ldap://127.0.0.1:1", BaseDN: "dc=x", Local: local, IDs: local}
	for name, mut := range map[string]func(*Config){
		"bad scheme":        func(c *Config) { c.URL = "http://x" },
		"starttls on ldaps": func(c *Config) { c.URL = "ldaps://x"; c.StartTLS = true },
		"no base":           func(c *Config) { c.BaseDN = "" },
		"filter without %s": func(c *Config) { c.UserFilter = "(uid=alice)" },
		"filter with two":   func(c *Config) { c.UserFilter = "(|(uid=%s)(mail=%s))" },
	} {
		c := base
		mut(&c)
		if _, err := New(c); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := Preset("nope").Apply(base); err == nil {
		t.Error("unknown preset accepted")
	}
	if _, err := New(base); err != nil {
		t.Errorf("good config: %v", err)
	}
}

func TestSSHA(t *testing.T) {
	// The value slappasswd -h {SSHA} -s secret -S... gives for this salt
	// is checked by the bind tests; here the format: 20 bytes of sha1 and
	// the salt, base64.
	got := SSHA("secret", []byte("saltsalt"))
	if !strings.HasPrefix(got, "{SSHA}") || len(got) != len("{SSHA}")+40 {
		t.Fatalf("SSHA = %q", got)
	}
}

func TestDryRunViewWritesNothing(t *testing.T) {
	f := newFixture(t, Mozilla)
	ctx := context.Background()
	f.seed(t, "frank", "frank-secret", "objectClass: dataStore", "uidNumber: 77", "mail: f@example.org")
	err := f.local.DryRun(ctx, func(tx store.Engine) error {
		view := f.dir.DryRunUsers(tx)
		stored, _ := f.dir.StoredPassword("another-password")
		if _, err := view.CreateUser(ctx, store.User{Username: "ghost", MD5: stored}); err != nil {
			return err
		}
		if err := view.SetEmail(ctx, 77, "changed@example.org"); err != nil {
			return err
		}
		return view.DeleteUser(ctx, 77)
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := f.slapd.Search(t, "(uid=ghost)"); got != "" {
		t.Fatalf("dry run created an entry:\n%s", got)
	}
	if got := f.attr(t, "frank", "mail"); got != "f@example.org" {
		t.Fatalf("dry run changed mail to %q", got)
	}
	if _, err := f.local.MappedUserID(ctx, "ghost", false); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("dry run kept an id mapping: %v", err)
	}
}

func TestAdmin(t *testing.T) {
	f := newFixture(t, Mozilla)
	ctx := context.Background()
	f.seed(t, "gina", "gina-secret", "objectClass: dataStore", "uidNumber: 501", "account-enabled: Yes",
		"mail: Gina@Example.org")
	if err := f.dir.SetStatus(ctx, 501, 0); err != nil {
		t.Fatal(err)
	}
	if got := f.attr(t, "gina", "account-enabled"); got != "No" {
		t.Fatalf("account-enabled = %q after disable", got)
	}
	if u, _ := f.dir.UserByName(ctx, "gina"); u.Status == 1 {
		t.Fatal("disabled user reads as active")
	}
	if err := f.dir.SetStatus(ctx, 501, 1); err != nil {
		t.Fatal(err)
	}
	if err := f.dir.SetLocation(ctx, 501, "node9.example.org"); err != nil {
		t.Fatal(err)
	}
	if got := f.attr(t, "gina", "primaryNode"); got != "weave:node9.example.org" {
		t.Fatalf("primaryNode = %q", got)
	}
	users, err := f.dir.UsersByEmail(ctx, "gina@example.org")
	if err != nil || len(users) != 1 || users[0].ID != 501 || users[0].Location != "node9.example.org" || users[0].Status != 1 {
		t.Fatalf("UsersByEmail: %+v, %v", users, err)
	}
	if err := f.dir.SetAlert(ctx, 501, "x"); !errors.Is(err, store.ErrUnsupported) {
		t.Fatalf("SetAlert: %v, want ErrUnsupported", err)
	}
	plain := newFixture(t, InetOrgPerson)
	if err := plain.dir.SetStatus(ctx, 1, 0); !errors.Is(err, store.ErrUnsupported) {
		t.Fatalf("SetStatus without an enabled attribute: %v", err)
	}
}

func TestUserByID(t *testing.T) {
	for _, preset := range []Preset{InetOrgPerson, Mozilla} {
		t.Run(string(preset), func(t *testing.T) {
			f := newFixture(t, preset)
			ctx := context.Background()
			stored, _ := f.dir.StoredPassword("hank password")
			id, err := f.dir.CreateUser(ctx, store.User{Username: "hank", MD5: stored, Location: "n1.example.org"})
			if err != nil {
				t.Fatal(err)
			}
			u, err := f.dir.UserByID(ctx, id)
			if err != nil || u.Username != "hank" || u.ID != id {
				t.Fatalf("UserByID(%d): %+v, %v", id, u, err)
			}
			if preset == Mozilla && u.Location != "n1.example.org" {
				t.Fatalf("location %q", u.Location)
			}
			if _, err := f.dir.UserByID(ctx, id+1000); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("unknown id: %v", err)
			}
		})
	}
}

// Idle connections do not outlive the server: after a slapd restart the
// next call works on a fresh one.
func TestDirectoryRestart(t *testing.T) {
	f := newFixture(t, InetOrgPerson)
	f.seed(t, "ivan", "ivan-secret")
	ctx := context.Background()
	u, err := f.dir.UserByName(ctx, "ivan")
	if err != nil || !verify(t, f.dir, u, "ivan-secret") {
		t.Fatalf("before restart: %+v, %v", u, err)
	}
	f.slapd.Stop()
	f.slapd.Start(t)
	if _, err := f.dir.UserByName(ctx, "ivan"); err != nil {
		t.Fatalf("after restart: %v", err)
	}
	if !verify(t, f.dir, u, "ivan-secret") {
		t.Fatal("bind after restart failed")
	}
}
