"""The console's pages, one module per area; `routes` puts them on the application."""
