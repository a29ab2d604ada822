"""The command line: parse, call one domain function, render. Nothing heavy is imported at start-up."""
