"""Reply transports: SMTP and .eml files, behind intake.domain.Mailer."""
