// The site script: search suggestions as you type (see search.ts).
