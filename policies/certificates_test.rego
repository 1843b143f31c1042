package certificates_test

import data.certificates
import data.fixtures

cert := {
	"apiVersion": "acm.aws.upbound.io/v1beta2", "kind": "Certificate",
	"metadata": {"name": "shop-alb"},
	"spec": {"forProvider": {"domainName": "shop.example.com", "subjectAlternativeNames": ["*.shop.example.com"], "validationMethod": "DNS"}},
}

validation := {
	"apiVersion": "acm.aws.upbound.io/v1beta1", "kind": "CertificateValidation",
	"metadata": {"name": "shop-alb"},
	"spec": {"forProvider": {"certificateArnRef": {"name": "shop-alb"}, "validationRecordFqdns": ["_abc.shop.example.com"]}},
}

record := {
	"apiVersion": "route53.aws.upbound.io/v1beta2", "kind": "Record",
	"metadata": {"name": "prod-acm-abc"},
	"spec": {"forProvider": {"name": "_abc.shop.example.com.", "type": "CNAME", "records": ["_def.acm-validations.aws."]}},
}

good := [cert, validation, record]

denied(obj, objs) := r if {
	r := {f.rule | some f in certificates.deny} with input as obj with data.check as fixtures.check("prod", objs)
}

test_validated_certificate_is_clean if {
	every obj in good {
		denied(obj, good) == set()
	}

	# an e-mail validated certificate needs no records
	email := fixtures.set(cert, "/spec/forProvider/validationMethod", "EMAIL")
	denied(email, [email]) == set()
}

test_certificate_without_validation if {
	denied(cert, fixtures.drop(good, validation)) == {"certificates.dns-validation"}
}

test_domain_without_validation_record if {
	c := fixtures.set(cert, "/spec/forProvider/subjectAlternativeNames", ["origin.shop.example.com"])
	denied(c, fixtures.swap(good, c)) == {"certificates.dns-validation"}
}

test_validation_record_not_in_the_zone if {
	denied(validation, fixtures.drop(good, record)) == {"certificates.dns-validation"}
	a := fixtures.set(record, "/spec/forProvider/type", "A")
	denied(validation, fixtures.swap(good, a)) == {"certificates.dns-validation"}
}

test_docs if {
	every id, text in certificates.docs {
		startswith(id, "certificates.")
		text != ""
	}
}
