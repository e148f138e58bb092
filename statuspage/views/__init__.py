"""HTTP views: public page, ops console, JSON APIs."""
