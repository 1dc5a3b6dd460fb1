// What a synchronous call threw, for assertions on its error (undefined when it did not throw).

export function thrown(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  return undefined;
}
