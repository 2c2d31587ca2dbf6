package httpapi

// requestRoutes are the data-subject and data-origin request routes.
func requestRoutes() []route { return nil }
