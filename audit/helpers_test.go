package audit_test

import "net/url"

func parseValues(s string) (url.Values, error) { return url.ParseQuery(s) }
