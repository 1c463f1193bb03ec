package resetpages

import "html/template"

// page is what every template renders from.
type page struct {
	Title    string
	Message  string // an error to show above the form
	Notice   string // a success sentence
	Username string
	Key      string
	Captcha  template.HTML
	Form     string // which form to show: forgot, reset, delete, or none
}

var pages = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
body { font-family: sans-serif; max-width: 32em; margin: 3em auto; padding: 0 1em; color: #222; }
label { display: block; margin-top: 1em; }
input[type=text], input[type=password] { width: 100%; padding: .4em; box-sizing: border-box; }
button { margin-top: 1.5em; padding: .5em 1.5em; }
.error { color: #a00; border: 1px solid #a00; padding: .5em; }
.notice { color: #060; border: 1px solid #060; padding: .5em; }
</style>
</head>
<body>
<h1>{{.Title}}</h1>
{{if .Message}}<p class="error" id="error">{{.Message}}</p>{{end}}
{{if .Notice}}<p class="notice" id="notice">{{.Notice}}</p>{{end}}
{{if eq .Form "forgot"}}
<form method="POST" action="/weave-password-reset" id="forgot">
<p>Enter your user name or the e-mail address of your account. We will send a reset key to the e-mail address on file.</p>
<label for="username">User name or e-mail address</label>
<input type="text" id="username" name="username" value="{{.Username}}" autocomplete="username" required>
{{.Captcha}}
<button type="submit">Send me a reset key</button>
</form>
{{else if eq .Form "reset"}}
<form method="POST" action="/weave-password-reset" id="reset">
<input type="hidden" name="key" value="{{.Key}}">
<input type="hidden" name="username" value="{{.Username}}">
<label for="password">New password</label>
<input type="password" id="password" name="password" autocomplete="new-password">
<label for="confirm">Confirm the new password</label>
<input type="password" id="confirm" name="confirm" autocomplete="new-password">
<button type="submit">Change my password</button>
</form>
{{else if eq .Form "delete"}}
<form method="POST" action="/weave-delete-account" id="delete">
<p>This deletes your account and every piece of data stored with it. It cannot be undone.</p>
<label for="username">User name or e-mail address</label>
<input type="text" id="username" name="username" value="{{.Username}}" autocomplete="username">
<label for="password">Password</label>
<input type="password" id="password" name="password" autocomplete="current-password">
<label><input type="checkbox" id="confirm" name="confirm" value="yes"> I understand that my account and all its data will be deleted.</label>
<button type="submit">Delete my account</button>
</form>
{{end}}
</body>
</html>
`))
