import { BadRequestException, ValidationPipe, type ValidationError } from '@nestjs/common';

interface Problem {
  path: string;
  message: string;
}

function flatten(errors: ValidationError[], parent = '$'): Problem[] {
  return errors.flatMap((e) => {
    const path = /^\d+$/.test(e.property) ? `${parent}[${e.property}]` : `${parent}.${e.property}`;
    const own = Object.values(e.constraints ?? {}).map((message) => ({ path, message }));
    return [...own, ...flatten(e.children ?? [], path)];
  });
}

/** Global pipe: transforms DTOs, rejects unknown fields, reports every problem with a JSON path. */
export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    transform: true,
    whitelist: true,
    forbidNonWhitelisted: true,
    transformOptions: { enableImplicitConversion: false },
    exceptionFactory: (errors) => {
      const details = flatten(errors);
      return new BadRequestException({ message: `Invalid request: ${details.map((d) => `${d.path} ${d.message}`).join('; ')}`, details });
    },
  });
}
