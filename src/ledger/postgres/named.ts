/**
 * Named parameters for node-postgres, which only knows `$1, $2…`: the statements keep SQLite's
 * `@name` style (so the two dialects read side by side and take the same parameter objects) and are
 * compiled once into PostgreSQL's positional form.
 */

export interface NamedStatement {
  text: string;
  names: string[];
}

const PARAM = /(?<![@:\w])@([A-Za-z_]\w*)/g;

const compiled = new Map<string, NamedStatement>();

/** `WHERE id = @id AND owner = @owner` → `WHERE id = $1 AND owner = $2`, names ['id', 'owner']. */
export function compileNamed(sql: string): NamedStatement {
  let statement = compiled.get(sql);
  if (!statement) {
    const names: string[] = [];
    const text = sql.replace(PARAM, (_, name: string) => {
      let index = names.indexOf(name);
      if (index < 0) index = names.push(name) - 1;
      return `$${index + 1}`;
    });
    statement = { text, names };
    compiled.set(sql, statement);
  }
  return statement;
}

/** The positional values for a compiled statement; a missing parameter is a bug, not a NULL. */
export function valuesFor(statement: NamedStatement, params: Record<string, unknown>): unknown[] {
  return statement.names.map((name) => {
    if (!(name in params)) throw new Error(`SQL parameter @${name} was not given`);
    const value = params[name];
    return value === undefined ? null : value;
  });
}
