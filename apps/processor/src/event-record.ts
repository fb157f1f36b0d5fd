/** A decoded event: the dataset schema's fields by name (avsc record, unions unwrapped). */
export type EventRecord = Record<string, unknown>;

/** A compiled condition. */
export type Predicate = (event: EventRecord) => boolean;

/** A compiled transform: changes the event in place (no copy per event). */
export type Mutator = (event: EventRecord) => void;
