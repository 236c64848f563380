// A refusal with its SMTP meaning: reply code, enhanced status code (RFC 3463) and a text that says
// which rule or limit applied. Thrown by intake policy; the SMTP layer sends it as it is.

export class SmtpReply extends Error {
  readonly responseCode: number;
  readonly enhancedCode: string;

  constructor(code: number, enhanced: string, text: string) {
    super(`${enhanced} ${text}`);
    this.name = 'SmtpReply';
    this.responseCode = code;
    this.enhancedCode = enhanced;
  }

  get reply(): string {
    return `${this.responseCode} ${this.message}`;
  }

  get temporary(): boolean {
    return this.responseCode < 500;
  }
}

export const smtpReply = (code: number, enhanced: string, text: string) => new SmtpReply(code, enhanced, text);
