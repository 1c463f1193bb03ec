package routes

// builtin is one route of the Weave API that the proxy knows without being
// told: routes.yaml's `default` mode applies to these when the file does not
// list them. Any other path is not an API route and always goes to legacy,
// so the legacy server's answers to odd paths (PHP quirks) stay as they were.
type builtin struct {
	name    string // in the API's terms, as an Ops person would write it
	method  string
	pattern string // mux template; versions restricted to the ones served
	write   bool   // a successful legacy write invalidates the user's native cache
}

const (
	storageV = "/{version:1\\.0|1\\.1|1}/{user}"
	userV    = "/user/{version:1\\.0|1}/{user}"
)

// builtins: user API first, so that a user named "storage" cannot turn
// /user/1.0/storage into a storage route.
var builtins = []builtin{
	{"GET /user/{version}/{user}", "GET", userV, false},
	{"PUT /user/{version}/{user}", "PUT", userV, false},
	{"DELETE /user/{version}/{user}", "DELETE", userV, true},
	{"POST /user/{version}/{user}/password", "POST", userV + "/password", true},
	{"GET /user/{version}/{user}/email", "GET", userV + "/email", false},
	{"POST /user/{version}/{user}/email", "POST", userV + "/email", false},
	{"GET /user/{version}/{user}/node/weave", "GET", userV + "/node/weave", false},
	{"GET /user/{version}/{user}/password_reset", "GET", userV + "/password_reset", false},
	{"DELETE /user/{version}/{user}/password_reset", "DELETE", userV + "/password_reset", false},
	{"GET /misc/{version}/captcha_html", "GET", "/misc/{version:1\\.0|1}/captcha_html", false},
	{"POST /misc/{version}/captcha_html", "POST", "/misc/{version:1\\.0|1}/captcha_html", false},
	{"GET /weave-password-reset", "GET", "/weave-password-reset", false},
	{"POST /weave-password-reset", "POST", "/weave-password-reset", false},

	{"GET /{version}/{user}/info/collections", "GET", storageV + "/info/collections", false},
	{"GET /{version}/{user}/info/collection_counts", "GET", storageV + "/info/collection_counts", false},
	{"GET /{version}/{user}/info/quota", "GET", storageV + "/info/quota", false},
	{"GET /{version}/{user}/info/collection_usage", "GET", storageV + "/info/collection_usage", false},
	{"DELETE /{version}/{user}/storage", "DELETE", storageV + "/storage", true},
	{"GET /{version}/{user}/storage/{collection}", "GET", storageV + "/storage/{collection}", false},
	{"POST /{version}/{user}/storage/{collection}", "POST", storageV + "/storage/{collection}", true},
	{"PUT /{version}/{user}/storage/{collection}", "PUT", storageV + "/storage/{collection}", true},
	{"DELETE /{version}/{user}/storage/{collection}", "DELETE", storageV + "/storage/{collection}", true},
	{"GET /{version}/{user}/storage/{collection}/{id}", "GET", storageV + "/storage/{collection}/{id}", false},
	{"PUT /{version}/{user}/storage/{collection}/{id}", "PUT", storageV + "/storage/{collection}/{id}", true},
	{"DELETE /{version}/{user}/storage/{collection}/{id}", "DELETE", storageV + "/storage/{collection}/{id}", true},
}

// BuiltinNames lists the API routes the proxy knows, in matching order, for
// documentation and for `routes promote` style tooling.
func BuiltinNames() []string {
	out := make([]string, len(builtins))
	for i, b := range builtins {
		out[i] = b.name
	}
	return out
}
