"""Examples for cloudcollect (a package so ``flask --app examples.exampleapp`` imports)."""
