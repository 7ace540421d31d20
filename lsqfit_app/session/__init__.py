"""The session layer: what the user has set up (table, column roles, model, settings) turned
into fit problems, Qt-free, shared by the window and the command line."""
