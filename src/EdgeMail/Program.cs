// Composition root placeholder; the CLI verbs arrive with the executable's own change.
return 0;
