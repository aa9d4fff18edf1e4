"""Reply transports: SMTP, Microsoft Graph sendMail and .eml files, behind intake.domain.Mailer."""
