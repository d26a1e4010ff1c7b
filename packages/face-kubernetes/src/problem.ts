/** Why an object cannot be read: a path inside the object and a message. */
export interface ObjectProblem {
  readonly problem: readonly [readonly (string | number)[], string];
}

export function isProblem(value: object): value is ObjectProblem {
  return "problem" in value;
}

export function problem(path: readonly (string | number)[], message: string): ObjectProblem {
  return { problem: [path, message] };
}
