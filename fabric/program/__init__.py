"""Array programs: routes, PE tasks and memory images, checked as a whole and encoded for the configuration chain."""
