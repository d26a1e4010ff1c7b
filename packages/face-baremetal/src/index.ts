// The face is being built; see issue 3.
export {};
