package httpapi

// logRoutes are the audit log routes.
func logRoutes() []route { return nil }
